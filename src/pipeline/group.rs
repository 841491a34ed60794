//! Group: find each finding's call site and add findings up per site.
//!
//! The call site is the application's innermost creation frame: outside aiohttp, asyncio,
//! the standard library, installed packages and the user's `--skip-frames` globs. The
//! installed library's line that built the object (LiteLLM's, gql's) is kept beside it
//! (`docs/formats.md`, "Call sites").
//! Aggregates are bounded: at most [`MAX_SITES`] sites, the rest counted as overflow.

use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Serialize;

use crate::pipeline::assemble::Frame;
use crate::pipeline::classify::{self, Label, Pattern};
use crate::pipeline::pair::{Finding, Object};
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Path of the innermost application frame, as Python printed it.
    pub file: Arc<str>,
    /// Its line.
    pub line: u32,
    /// Its function, when the traceback names it.
    pub function: Option<Arc<str>>,
    /// Its source line, when the log shows it.
    pub code: Option<Arc<str>>,
    /// The outermost application frame, when it differs: the entry point.
    pub outer: Option<Via>,
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
        // Named as `path:line` only when reported: this runs for every finding.
        outer: outer.map(|f| Via {
            file: f.path.clone(),
            line: f.line,
            function: f.function.clone(),
        }),
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

    /// Adds `o`'s counts to these.
    pub fn merge(&mut self, o: &Counts) {
        // Named one by one: a field added to `Counts` must be added here too.
        let Counts {
            findings,
            leak,
            noise,
            unknown,
            sessions,
            connectors,
            responses,
            connections,
            pooled_connections,
        } = o;
        self.findings += findings;
        self.leak += leak;
        self.noise += noise;
        self.unknown += unknown;
        self.sessions += sessions;
        self.connectors += connectors;
        self.responses += responses;
        self.connections += connections;
        self.pooled_connections += pooled_connections;
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
    /// A session that other lines parted from a connector that may be its own
    /// ([`crate::pipeline::pair::Object::parted`]).
    pub parted: bool,
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
    let label = classify::label(f);
    Triaged {
        label,
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
        parted: f.objects.iter().any(|o| o.parted),
        both_channels: f.objects.iter().all(|o| o.logged && o.warned),
        site: f.objects.iter().find_map(|o| site_of(o, rules)),
        has_traceback: f
            .objects
            .iter()
            .any(|o| matches!(o.trace, Some(Trace::Source | Trace::Allocated))),
        input,
        line: first.pos.line,
        ts: first.pos.ts.clone(),
        pattern: Pattern::of(f, label),
        part: None,
    }
}

mod summary;

pub use summary::{Related, SiteSummary, Summary};

#[cfg(test)]
mod tests;
