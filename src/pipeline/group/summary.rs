//! Findings added up: per call site, in total, and the related texts beside them.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::{Counts, MAX_SITES, NO_SITE_FINGERPRINT, Site, Triaged};
use crate::pipeline::classify::Pattern;
use crate::pipeline::pair::{Decided, Object};
use crate::pipeline::parse::Kind;

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
    /// Sessions other lines parted from a connector that may be their own (`unknown`).
    pub parted: u64,
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
        self.parted += u64::from(t.parted);
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

    /// Adds up what `later` found after what this summary found, as if its findings had
    /// been added here one by one after these (two threads' halves of one file). The one
    /// difference: when `later` alone had more than [`MAX_SITES`] sites, its findings at
    /// the sites it could not list are overflow here too, even at a site listed here.
    pub fn merge(&mut self, later: Summary) {
        // Named one by one: a field added to `Summary` must be added here too.
        let Summary {
            totals,
            truncated,
            parted,
            with_traceback,
            all_frames_skipped,
            related,
            unawaited,
            sites,
            index: _,
            overflow,
            unread_mentions,
            notes,
        } = later;
        self.totals.merge(&totals);
        self.truncated += truncated;
        self.parted += parted;
        self.with_traceback += with_traceback;
        self.all_frames_skipped += all_frames_skipped;
        let Related {
            transports,
            sockets,
            tasks,
            unawaited_closes,
        } = related;
        let r = &mut self.related;
        r.transports += transports;
        r.sockets += sockets;
        r.tasks += tasks;
        r.unawaited_closes += unawaited_closes;
        for (loc, n) in unawaited {
            if let Some((_, m)) = self.unawaited.iter_mut().find(|(l, _)| *l == loc) {
                *m += n;
            } else if self.unawaited.len() < MAX_SITES {
                self.unawaited.push((loc, n));
            }
        }
        for s in sites {
            let key = s.site.as_ref().map(|x| (x.file.clone(), x.line));
            let i = match self.index.get(&key) {
                Some(&i) => i,
                None if self.sites.len() >= MAX_SITES => {
                    self.overflow.merge(&s.counts);
                    continue;
                }
                None => {
                    self.index.insert(key, self.sites.len());
                    self.sites.push(s);
                    continue;
                }
            };
            let SiteSummary {
                site: _,
                counts,
                first_seen,
                last_seen,
                first_at: _,
                pattern,
                parts,
            } = s;
            let mine = &mut self.sites[i];
            mine.counts.merge(&counts);
            mine.pattern = mine.pattern.max(pattern);
            for p in parts {
                if mine.parts.len() < MAX_PARTS && !mine.parts.contains(&p) {
                    mine.parts.push(p);
                }
            }
            if mine.first_seen.is_none() {
                mine.first_seen = first_seen;
            }
            if last_seen.is_some() {
                mine.last_seen = last_seen;
            }
        }
        self.overflow.merge(&overflow);
        self.unread_mentions += unread_mentions;
        for n in notes {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
    }

    /// Moves the input lines it names `n` lines on (a part of a file read with its lines
    /// numbered from its start).
    pub fn shift_lines(&mut self, n: u64) {
        for s in &mut self.sites {
            s.first_at.1 += n;
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
