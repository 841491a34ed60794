//! Policy: decide whether a summary fails a CI gate, given what the team accepts.
//!
//! A site fails when it has findings whose label the policy fails on and its fingerprint
//! is not in the baseline; `--max-pooled-connections` fails when the pooled connections of
//! sites outside the baseline add up to more. The baseline is a text file people read,
//! diff and edit: one fingerprint per line, each under a comment saying what it was.

use std::collections::BTreeSet;

use crate::pipeline::classify::{Label, Labels};
use crate::pipeline::escape::terminal;
use crate::pipeline::group::{SiteSummary, Summary};
use crate::pipeline::python::normal_path;

/// What fails the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Labels that fail.
    pub fail_on: Labels,
    /// Fail when sites outside the baseline pooled more connections than this.
    pub max_pooled: Option<u64>,
    /// Pass even though lines carried aiohttp's headers but were not read (`--allow-unread`).
    pub allow_unread: bool,
}

impl Default for Policy {
    /// Leaks fail; nothing else does.
    fn default() -> Self {
        Policy {
            fail_on: Labels::only(Label::Leak),
            max_pooled: None,
            allow_unread: false,
        }
    }
}

/// Why a baseline file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct BaselineError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub why: String,
}

/// Fingerprints of accepted sites.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    entries: BTreeSet<String>,
}

/// The first line of every baseline file.
const HEADER: &str =
    "# unclosed baseline: call sites whose findings `unclosed check --baseline` accepts.";

impl Baseline {
    /// Reads a baseline: fingerprints one per line; `#` starts a comment line.
    pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
        let mut entries = BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let fp = l.split_whitespace().next().unwrap_or("");
            let ok = fp == crate::pipeline::group::NO_SITE_FINGERPRINT
                || (fp.len() == 16 && fp.bytes().all(|b| b.is_ascii_hexdigit()));
            if !ok {
                return Err(BaselineError {
                    line: i + 1,
                    why: format!(
                        "'{}' is not a fingerprint (16 hex digits, or {})",
                        terminal(fp),
                        crate::pipeline::group::NO_SITE_FINGERPRINT
                    ),
                });
            }
            entries.insert(fp.to_ascii_lowercase());
        }
        Ok(Baseline { entries })
    }

    /// Whether the baseline accepts this fingerprint.
    pub fn accepts(&self, fingerprint: &str) -> bool {
        self.entries.contains(fingerprint)
    }

    /// The baseline file for every site of `summary`, sorted by path, with a comment per
    /// entry saying what it was.
    pub fn write(summary: &Summary) -> String {
        let mut sites: Vec<&SiteSummary> = summary.sites();
        sites.sort_by_key(|s| s.site.as_ref().map(|x| (normal_path(&x.file), x.line)));
        let mut out = format!(
            "{HEADER}\n# One fingerprint per line, from the site's path, function and source text (not its line\n\
             # number). Delete an entry to stop accepting it; `unclosed check --write-baseline` rewrites the file.\n"
        );
        let mut seen = BTreeSet::new();
        for s in sites {
            let fp = s.fingerprint();
            if !seen.insert(fp.clone()) {
                continue;
            }
            out.push('\n');
            out.push_str(&format!("# {}\n", terminal(&describe(s))));
            if let Some(code) = s.site.as_ref().and_then(|x| x.code.as_ref()) {
                out.push_str(&format!("#   {}\n", terminal(code)));
            }
            out.push_str(&fp);
            out.push('\n');
        }
        out
    }
}

/// `leak at app/client.py:34 in fetch: 3 findings, 11 pooled connections`.
pub fn describe(s: &SiteSummary) -> String {
    let c = &s.counts;
    let place = match &s.site {
        Some(x) => {
            let f = x
                .function
                .as_deref()
                .map(|f| format!(" in {f}"))
                .unwrap_or_default();
            // A library built the object: its line is where the session (or the connector,
            // when no session reported) is made, the site is the call into it that the
            // application can change.
            let via = x
                .created_in
                .as_ref()
                .map(|v| {
                    format!(
                        " (built inside the library at {}:{})",
                        normal_path(&v.file),
                        v.line
                    )
                })
                .unwrap_or_default();
            format!("{}:{}{f}{via}", normal_path(&x.file), x.line)
        }
        None => "no call site".to_string(),
    };
    format!(
        "{} at {place}: {} finding{}, {} pooled connection{} ({})",
        s.label(),
        c.findings,
        if c.findings == 1 { "" } else { "s" },
        c.pooled_connections,
        if c.pooled_connections == 1 { "" } else { "s" },
        s.pattern.name()
    )
}

/// What the policy says of one site.
#[derive(Debug)]
pub struct SiteVerdict<'a> {
    /// The site.
    pub site: &'a SiteSummary,
    /// Its fingerprint.
    pub fingerprint: String,
    /// The baseline accepts it.
    pub baselined: bool,
    /// It breaks the policy.
    pub fails: bool,
}

/// What the policy says of a summary.
#[derive(Debug)]
pub struct Verdict<'a> {
    /// Every site, worst first.
    pub sites: Vec<SiteVerdict<'a>>,
    /// Baseline entries no site matched any more.
    pub stale: Vec<String>,
    /// Pooled connections of sites outside the baseline.
    pub new_pooled: u64,
    /// Why the gate fails; empty when it passes.
    pub reasons: Vec<String>,
}

impl Verdict<'_> {
    /// Whether the gate fails.
    pub fn failed(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// Applies `policy` (and `baseline`) to `summary`.
pub fn evaluate<'a>(
    summary: &'a Summary,
    policy: &Policy,
    baseline: Option<&Baseline>,
) -> Verdict<'a> {
    let f = policy.fail_on;
    let breaks = |c: &crate::pipeline::group::Counts| {
        [
            (Label::Leak, c.leak),
            (Label::Noise, c.noise),
            (Label::Unknown, c.unknown),
        ]
        .into_iter()
        .any(|(label, n)| n > 0 && f.contains(label))
    };
    let mut seen = BTreeSet::new();
    let mut new_pooled = 0;
    let sites: Vec<SiteVerdict<'a>> = summary
        .sites()
        .into_iter()
        .map(|s| {
            let fingerprint = s.fingerprint();
            let baselined = baseline.is_some_and(|b| b.accepts(&fingerprint));
            seen.insert(fingerprint.clone());
            if !baselined {
                new_pooled += s.counts.pooled_connections;
            }
            SiteVerdict {
                site: s,
                fails: !baselined && breaks(&s.counts),
                baselined,
                fingerprint,
            }
        })
        .collect();
    let mut reasons = Vec::new();
    let failing = sites.iter().filter(|v| v.fails).count();
    if failing > 0 {
        let what = if baseline.is_some() {
            " not in the baseline"
        } else {
            ""
        };
        reasons.push(format!(
            "{failing} call site{} with findings that fail the policy{what}",
            if failing == 1 { "" } else { "s" }
        ));
    }
    // Findings past the site limit cannot be matched to the baseline: they count as new.
    if summary.overflow.findings > 0 {
        new_pooled += summary.overflow.pooled_connections;
        if breaks(&summary.overflow) {
            reasons.push(format!(
                "{} findings at call sites past the listed limit",
                summary.overflow.findings
            ));
        }
    }
    if let Some(max) = policy.max_pooled
        && new_pooled > max
    {
        reasons.push(format!(
            "{new_pooled} pooled connections held at GC, more than --max-pooled-connections {max}"
        ));
    }
    if !policy.allow_unread && summary.unread_mentions > 0 {
        reasons.push(format!(
            "{} line{} aiohttp's `Unclosed …` header but {} not read as a block (--allow-unread to pass)",
            summary.unread_mentions,
            if summary.unread_mentions == 1 { " carries" } else { "s carry" },
            if summary.unread_mentions == 1 { "was" } else { "were" }
        ));
    }
    let stale = baseline.map_or_else(Vec::new, |b| {
        b.entries
            .iter()
            .filter(|e| !seen.contains(*e))
            .cloned()
            .collect()
    });
    Verdict {
        sites,
        stale,
        new_pooled,
        reasons,
    }
}

#[cfg(test)]
mod tests;
