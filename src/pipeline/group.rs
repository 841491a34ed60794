//! Group: find each finding's call site and add findings up per site.
//!
//! The call site is the application's innermost creation frame: outside aiohttp, asyncio,
//! the standard library, installed packages and the user's `--skip-frames` globs. The
//! installed library's line that built the object (LiteLLM's, gql's) is kept beside it
//! (`docs/formats.md`, "Call sites").
//! Aggregates are bounded: at most [`MAX_SITES`] sites, the rest counted as overflow.

use std::collections::HashMap;
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Serialize;

use crate::pipeline::assemble::Frame;
use crate::pipeline::classify::{self, Label, Pattern};
use crate::pipeline::pair::{Decided, Finding, Object};
use crate::pipeline::parse::{Kind, Trace};
use crate::pipeline::python::{is_installed, is_integration, normal_path, short_path};

/// Distinct call sites kept; findings at further sites are counted, not listed.
pub const MAX_SITES: usize = 10_000;

/// User rules for frames: which to pass over, and which installed code counts as the
/// application.
#[derive(Clone, Debug, Default)]
pub struct SiteRules {
    skip: Option<GlobSet>,
    in_app: Option<GlobSet>,
}

/// A glob as users of ripgrep and fd expect: one without a `/` matches a file's name
/// anywhere (`percall.py`, `*_client.py`).
fn glob_set(globs: &[String]) -> Result<Option<GlobSet>, globset::Error> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g)?);
        if !g.contains('/') {
            b.add(Glob::new(&format!("**/{g}"))?);
        }
    }
    Ok(Some(b.build()?))
}

impl SiteRules {
    /// Builds the rules from `--skip-frames` globs.
    pub fn new(globs: &[String]) -> Result<SiteRules, globset::Error> {
        Ok(SiteRules {
            skip: glob_set(globs)?,
            in_app: None,
        })
    }

    /// Adds `--in-app` globs: installed code that counts as the application (a library's
    /// own maintainers reading its test logs).
    pub fn with_in_app(mut self, globs: &[String]) -> Result<SiteRules, globset::Error> {
        self.in_app = glob_set(globs)?;
        Ok(self)
    }

    fn skips(&self, f: &Frame) -> bool {
        f.library || self.skip.as_ref().is_some_and(|s| s.is_match(&*f.path))
    }

    /// Whether a frame that is not skipped is the application's own code.
    fn is_app(&self, f: &Frame) -> bool {
        !is_installed(&f.path)
            || is_integration(&f.path)
            || self.in_app.as_ref().is_some_and(|s| s.is_match(&*f.path))
    }
}

/// A frame named beside a call site: the library line that built the object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Via {
    /// Path as Python printed it.
    pub file: Arc<str>,
    /// Its line.
    pub line: u32,
    /// Its function, when the traceback names it.
    pub function: Option<Arc<str>>,
}

impl Via {
    /// `path:line`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// Where a finding's objects were created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Site {
    /// Path of the innermost application frame, as Python printed it.
    pub file: Arc<str>,
    /// Its line.
    pub line: u32,
    /// Its function, when the traceback names it.
    pub function: Option<Arc<str>>,
    /// Its source line, when the log shows it.
    pub code: Option<Arc<str>>,
    /// The outermost application frame (`path:line`), when it differs: the entry point.
    pub outer: Option<String>,
    /// The innermost frame outside aiohttp, asyncio and the standard library, when it is not
    /// the site itself: the installed library's line that built the object (LiteLLM's
    /// `http_handler.py` for a LiteLLM user).
    pub created_in: Option<Via>,
}

impl Site {
    /// A fingerprint that names the site across runs, machines and envelopes: the path's
    /// last two parts (or its part after `site-packages/`), the function and the source
    /// text, hashed. Never the line number (unless the log has neither function nor source),
    /// so unrelated edits above the site do not change it.
    pub fn fingerprint(&self) -> String {
        let mut key = normal_path(&self.file);
        key.push('\0');
        key.push_str(self.function.as_deref().unwrap_or(""));
        key.push('\0');
        match &self.code {
            Some(code) => key.push_str(&code.split_whitespace().collect::<Vec<_>>().join(" ")),
            None if self.function.is_none() => key.push_str(&self.line.to_string()),
            None => {}
        }
        format!("{:016x}", fnv1a(key.as_bytes()))
    }

    /// `path:line`, the key sites are grouped by.
    pub fn key(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// `created at path:line in function`, or `no call site in the log`.
pub fn created_at(site: Option<&Site>) -> String {
    match site {
        Some(s) => {
            let f = s
                .function
                .as_deref()
                .map(|f| format!(" in {f}"))
                .unwrap_or_default();
            let via = s
                .created_in
                .as_ref()
                .map(|v| format!(" via {}", short_path(&v.key())))
                .unwrap_or_default();
            format!("created at {}:{}{f}{via}", s.file, s.line)
        }
        None => "no call site in the log".to_string(),
    }
}

/// The fingerprint of findings without a call site.
pub const NO_SITE_FINGERPRINT: &str = "no-call-site";

/// 64-bit FNV-1a: a hash that stays the same across releases and machines (the standard
/// library's does not promise to), for baseline fingerprints.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Finds the call site in an object's creation frames (never `handle_traceback`'s): the
/// application's innermost frame, outside aiohttp, asyncio, uvloop, the standard library,
/// installed packages (unless `--in-app` says otherwise) and `--skip-frames`. With no such
/// frame (a server that runs library code only), the innermost frame outside aiohttp,
/// asyncio and the standard library. The latter is also named beside the site when it differs.
pub fn site_of(o: &Object, rules: &SiteRules) -> Option<Site> {
    if !matches!(o.trace, Some(Trace::Source | Trace::Allocated)) || o.trace_cut {
        return None;
    }
    let kept = || o.frames.iter().filter(|f| !rules.skips(f));
    let library_line = kept().next_back()?;
    let inner = kept().rfind(|f| rules.is_app(f)).unwrap_or(library_line);
    let outer = kept()
        .find(|f| rules.is_app(f))
        .filter(|f| f.path != inner.path || f.line != inner.line);
    let created_in = (!std::ptr::eq(inner, library_line)).then(|| Via {
        file: library_line.path.clone(),
        line: library_line.line,
        function: library_line.function.clone(),
    });
    Some(Site {
        file: inner.path.clone(),
        line: inner.line,
        function: inner.function.clone(),
        code: inner.code.clone(),
        outer: outer.map(|f| format!("{}:{}", f.path, f.line)),
        created_in,
    })
}

/// Counts of what findings reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Findings.
    pub findings: u64,
    /// Findings labelled leak.
    pub leak: u64,
    /// Findings labelled noise.
    pub noise: u64,
    /// Findings labelled unknown.
    pub unknown: u64,
    /// Distinct sessions reported.
    pub sessions: u64,
    /// Distinct connectors reported.
    pub connectors: u64,
    /// Distinct unread responses reported.
    pub responses: u64,
    /// Distinct unreleased connections (`Unclosed connection`) reported.
    pub connections: u64,
    /// Pooled connections listed by connector blocks.
    pub pooled_connections: u64,
}

impl Counts {
    fn add(&mut self, t: &Triaged) {
        self.findings += 1;
        match t.label {
            Label::Leak => self.leak += 1,
            Label::Noise => self.noise += 1,
            Label::Unknown => self.unknown += 1,
        }
        self.sessions += t.sessions;
        self.connectors += t.connectors;
        self.responses += t.responses;
        self.connections += t.connections;
        self.pooled_connections += t.pooled_connections;
    }
}

/// A finding with everything a report says of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Triaged {
    /// Its label.
    pub label: Label,
    /// Sessions in it (0 or 1).
    pub sessions: u64,
    /// Connectors in it (0 or 1).
    pub connectors: u64,
    /// Responses in it (0 or 1).
    pub responses: u64,
    /// Unreleased connections in it (0 or 1).
    pub connections: u64,
    /// Pooled connections its connector listed.
    pub pooled_connections: u64,
    /// Part of its evidence was cut off.
    pub truncated: bool,
    /// Shown by both the warnings module and asyncio's log.
    pub both_channels: bool,
    /// Where it was created.
    pub site: Option<Site>,
    /// Whether its blocks carried a creation traceback at all.
    pub has_traceback: bool,
    /// Index of the input it came from.
    pub input: usize,
    /// The line its first block starts on.
    pub line: u64,
    /// Its timestamp, when the log gives one.
    pub ts: Option<String>,
    /// What mistake it shows.
    pub pattern: Pattern,
    /// The part of the output it came from (a pytest test id), when the caller knows it.
    pub part: Option<String>,
}

/// Labels a finding and finds its site.
pub fn triage(f: &Finding, input: usize, rules: &SiteRules) -> Triaged {
    let count = |k: Kind| f.objects.iter().filter(|o| o.kind == k).count() as u64;
    let first = &f.objects[0];
    Triaged {
        label: classify::label(f),
        sessions: count(Kind::Session),
        connectors: count(Kind::Connector),
        responses: count(Kind::Response),
        connections: count(Kind::Connection),
        pooled_connections: f
            .objects
            .iter()
            .filter_map(|o| o.pool)
            .map(|p| p.connections)
            .sum(),
        truncated: classify::truncated(f),
        both_channels: f.objects.iter().all(|o| o.logged && o.warned),
        site: f.objects.iter().find_map(|o| site_of(o, rules)),
        has_traceback: f
            .objects
            .iter()
            .any(|o| matches!(o.trace, Some(Trace::Source | Trace::Allocated))),
        input,
        line: first.pos.line,
        ts: first.pos.ts.clone(),
        pattern: Pattern::of(f, classify::label(f)),
        part: None,
    }
}

/// Per-site aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteSummary {
    /// The site; `None` groups findings without a creation traceback.
    pub site: Option<Site>,
    /// What was found there.
    pub counts: Counts,
    /// Timestamp of the first finding here, as the log wrote it.
    pub first_seen: Option<String>,
    /// Timestamp of the last finding here.
    pub last_seen: Option<String>,
    /// Input and line of the first finding here.
    pub first_at: (usize, u64),
    /// The most severe pattern seen here.
    pub pattern: Pattern,
    /// Parts of the output (pytest test ids) findings here came from, the first few.
    pub parts: Vec<String>,
}

/// Parts kept per site.
const MAX_PARTS: usize = 5;

impl SiteSummary {
    /// The site's baseline fingerprint.
    pub fn fingerprint(&self) -> String {
        self.site
            .as_ref()
            .map_or_else(|| NO_SITE_FINGERPRINT.to_string(), Site::fingerprint)
    }

    /// `leak`, `noise`, `unknown`, or `mixed` when the site has findings of several labels.
    pub fn label(&self) -> &'static str {
        let c = &self.counts;
        match (c.leak > 0, c.noise > 0, c.unknown > 0) {
            (true, false, false) => "leak",
            (false, true, false) => "noise",
            (false, false, true) => "unknown",
            _ => "mixed",
        }
    }
}

/// Counts of the related texts (docs/formats.md §8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Related {
    /// `ResourceWarning: unclosed transport`.
    pub transports: u64,
    /// `ResourceWarning: unclosed <socket.socket …>`.
    pub sockets: u64,
    /// `Task was destroyed but it is pending!`.
    pub tasks: u64,
    /// `coroutine 'ClientSession.close' was never awaited`.
    pub unawaited_closes: u64,
}

/// Everything found, added up.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Totals over every finding.
    pub totals: Counts,
    /// Findings whose evidence was cut off.
    pub truncated: u64,
    /// Findings that carried a creation traceback.
    pub with_traceback: u64,
    /// Findings whose traceback had no frame left once library frames and `--skip-frames`
    /// were passed over.
    pub all_frames_skipped: u64,
    /// Related texts.
    pub related: Related,
    /// `FILE:LINE` of unawaited `close()` calls, with how often each was reported.
    pub unawaited: Vec<((String, u32), u64)>,
    sites: Vec<SiteSummary>,
    /// Sites by path and line (what [`Site::key`] says, without formatting it).
    index: HashMap<Option<(Arc<str>, u32)>, usize>,
    /// Findings at sites beyond [`MAX_SITES`].
    pub overflow: Counts,
    /// Lines that carried one of aiohttp's warning headers but were not read as blocks, over
    /// every input.
    pub unread_mentions: u64,
    /// What the caller knows the counts leave out, said with them (objects pytest showed only
    /// in its warnings summary).
    pub notes: Vec<String>,
}

impl Summary {
    /// Adds a decided item. `triaged` is the finding's triage (`None` for related texts).
    pub fn add(&mut self, d: &Decided, triaged: Option<&Triaged>) {
        match (d, triaged) {
            (Decided::Finding(_), Some(t)) => self.add_finding(t),
            (Decided::Related(o), _) => self.add_related(o),
            (Decided::Finding(_), None) | (Decided::Text(_), _) => {}
        }
    }

    fn add_finding(&mut self, t: &Triaged) {
        self.totals.add(t);
        self.truncated += u64::from(t.truncated);
        self.with_traceback += u64::from(t.has_traceback);
        self.all_frames_skipped += u64::from(t.has_traceback && t.site.is_none());
        let key = t.site.as_ref().map(|s| (s.file.clone(), s.line));
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None if self.sites.len() >= MAX_SITES => {
                self.overflow.add(t);
                return;
            }
            None => {
                self.sites.push(SiteSummary {
                    site: t.site.clone(),
                    counts: Counts::default(),
                    first_seen: t.ts.clone(),
                    last_seen: None,
                    first_at: (t.input, t.line),
                    pattern: t.pattern,
                    parts: Vec::new(),
                });
                self.index.insert(key, self.sites.len() - 1);
                self.sites.len() - 1
            }
        };
        let s = &mut self.sites[i];
        s.counts.add(t);
        s.pattern = s.pattern.max(t.pattern);
        if let Some(p) = &t.part
            && s.parts.len() < MAX_PARTS
            && !s.parts.contains(p)
        {
            s.parts.push(p.clone());
        }
        if t.ts.is_some() {
            if s.first_seen.is_none() {
                s.first_seen = t.ts.clone();
            }
            s.last_seen = t.ts.clone();
        }
    }

    fn add_related(&mut self, o: &Object) {
        let r = &mut self.related;
        match o.kind {
            Kind::Transport => r.transports += 1,
            Kind::Socket => r.sockets += 1,
            Kind::Task => r.tasks += 1,
            Kind::UnawaitedClose => {
                r.unawaited_closes += 1;
                if let Some(loc) = &o.location {
                    if let Some((_, n)) = self.unawaited.iter_mut().find(|(l, _)| l == loc) {
                        *n += 1;
                    } else if self.unawaited.len() < MAX_SITES {
                        self.unawaited.push((loc.clone(), 1));
                    }
                }
            }
            _ => {}
        }
    }

    /// Renames the parts sites were seen in (`rename` gives a part's new name, `None` keeps
    /// it), merging names that become one: a test first known by its failure section's
    /// header (`test_x`) and later by its id (`tests/test_a.py::test_x`) is one test.
    pub fn rename_parts(&mut self, rename: impl Fn(&str) -> Option<String>) {
        for s in &mut self.sites {
            let mut parts: Vec<String> = Vec::with_capacity(s.parts.len());
            for p in s.parts.drain(..) {
                let p = rename(&p).unwrap_or(p);
                if !parts.contains(&p) {
                    parts.push(p);
                }
            }
            s.parts = parts;
        }
    }

    /// Sites, worst first: by label (leaks and mixed first), pooled connections, findings,
    /// then name; findings without a site last.
    pub fn sites(&self) -> Vec<&SiteSummary> {
        let mut v: Vec<&SiteSummary> = self.sites.iter().collect();
        let rank = |s: &SiteSummary| match s.label() {
            "leak" | "mixed" => 0,
            "unknown" => 1,
            _ => 2,
        };
        v.sort_by(|a, b| {
            (
                a.site.is_none(),
                rank(a),
                std::cmp::Reverse(a.counts.pooled_connections),
                std::cmp::Reverse(a.counts.findings),
            )
                .cmp(&(
                    b.site.is_none(),
                    rank(b),
                    std::cmp::Reverse(b.counts.pooled_connections),
                    std::cmp::Reverse(b.counts.findings),
                ))
                .then_with(|| {
                    a.site
                        .as_ref()
                        .map(Site::key)
                        .cmp(&b.site.as_ref().map(Site::key))
                })
        });
        v
    }

    /// Whether findings exist but none carried a traceback, so the report should say how
    /// to get call sites.
    pub fn needs_site_hint(&self) -> bool {
        self.totals.findings > 0 && self.with_traceback < self.totals.findings
    }
}

#[cfg(test)]
mod tests;
