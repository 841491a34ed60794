//! `audit`'s reports: the linter-style text, the `unclosed-audit/1` JSON object, SARIF and
//! GitHub annotations. Paths and source-derived text are untrusted: escaped for each format
//! by the same writers `check` uses.

mod join;
pub mod sites;

pub use join::{SiteJoin, join};

use serde_json::{Value, json};

use crate::audit::{Construction, VERDICTS, Verdict};
use crate::pipeline::escape::terminal;
use crate::report::ci::{
    GITHUB_ANNOTATIONS_PER_LEVEL, artifact_location, github_data, github_property,
};
use crate::report::explain::audit_fix;

/// The JSON schema name.
pub const AUDIT_SCHEMA: &str = "unclosed-audit/1";

/// What a log showed of a construction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// Findings whose call site or creating frame is the construction (or a call into it).
    pub findings: u64,
    /// Of them, leaks.
    pub leak: u64,
    /// Of them, noise.
    pub noise: u64,
    /// Pooled connections they held.
    pub pooled_connections: u64,
    /// The log(s) that showed them.
    pub log: String,
}

/// One construction in the report.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The file, as the walk named it.
    pub file: String,
    /// What the audit decided.
    pub construction: Construction,
    /// Stable across moved lines: path, function, source text and verdict hashed.
    pub fingerprint: String,
    /// It breaks the policy (`--fail-on`, not suppressed, not in the baseline).
    pub fails: bool,
    /// The baseline accepts it.
    pub baselined: bool,
    /// What the joined logs showed of it.
    pub confirmed: Option<Confirmation>,
}

impl Entry {
    /// Whether the text output shows it without `--all`.
    pub fn is_problem(&self) -> bool {
        let v = self.construction.verdict;
        (v.is_bug() || v == Verdict::Unknown) && !self.construction.suppressed && !self.baselined
    }
}

/// A call site from the logs that no construction explains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unexplained {
    /// The path as the log printed it.
    pub file: String,
    /// Its line.
    pub line: u32,
    /// The frame's function, when printed.
    pub function: Option<String>,
    /// Findings there.
    pub findings: u64,
    /// Pooled connections they held.
    pub pooled_connections: u64,
}

/// Everything an audit run found.
#[derive(Clone, Debug, Default)]
pub struct AuditReport {
    /// Python files looked at.
    pub scanned: u64,
    /// Files that could not be read or parsed.
    pub skipped: u64,
    /// Files with a syntax error (audited around it).
    pub parse_errors: u64,
    /// Every construction, by file and line.
    pub entries: Vec<Entry>,
    /// Whether logs were joined.
    pub joined: bool,
    /// The logs' call sites no construction explains.
    pub unexplained: Vec<Unexplained>,
}

impl AuditReport {
    /// How many constructions have each verdict.
    pub fn totals(&self) -> Vec<(Verdict, u64)> {
        VERDICTS
            .iter()
            .map(|v| {
                let n = self
                    .entries
                    .iter()
                    .filter(|e| e.construction.verdict == *v)
                    .count();
                (*v, n as u64)
            })
            .collect()
    }

    /// Whether any construction breaks the policy.
    pub fn failed(&self) -> bool {
        self.entries.iter().any(|e| e.fails)
    }
}

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn verdict_color(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok | Verdict::Transferred => "32",
        Verdict::Unknown => "33",
        _ => "1;31",
    }
}

/// The text report: `path:line:col: VERDICT constructs: why`, then its owner and what the
/// logs showed (and its fix with `verbose`); problems only unless `all`; each shown
/// verdict's fix once (without `verbose`), and a closing summary line.
pub fn text(r: &AuditReport, all: bool, verbose: bool, color: bool) -> String {
    let mut out = String::new();
    let mut fixes: Vec<Verdict> = Vec::new();
    for e in r.entries.iter().filter(|e| all || e.is_problem()) {
        let c = &e.construction;
        let mut tags = String::new();
        if c.suppressed {
            tags.push_str(" (suppressed)");
        }
        if e.baselined {
            tags.push_str(" (baseline)");
        }
        out.push_str(&format!(
            "{}:{}:{}: {} {}: {}{tags}\n",
            paint(color, "1", &terminal(&e.file)),
            c.line,
            c.column,
            paint(color, verdict_color(c.verdict), c.verdict.name()),
            c.constructs.name(),
            terminal(&c.why),
        ));
        out.push_str(&format!("    owner: {}\n", terminal(&c.owner)));
        if let Some(k) = &e.confirmed {
            out.push_str(&format!(
                "    confirmed: {} finding(s) in {}: {} leak, {} noise, {} pooled connection(s)\n",
                k.findings,
                terminal(&k.log),
                k.leak,
                k.noise,
                k.pooled_connections
            ));
        }
        if c.verdict != Verdict::Ok {
            if verbose {
                out.push_str(&format!("    fix: {}\n", audit_fix(c.verdict)));
            } else if !fixes.contains(&c.verdict) {
                fixes.push(c.verdict);
            }
        }
    }
    for u in &r.unexplained {
        let f = u
            .function
            .as_deref()
            .map(|f| format!(" in {}", terminal(f)))
            .unwrap_or_default();
        out.push_str(&format!(
            "{}:{}: {} log call site{f} that no audited construction explains: {} finding(s), {} \
             pooled connection(s)\n",
            paint(color, "1", &terminal(&u.file)),
            u.line,
            paint(color, "33", "unexplained"),
            u.findings,
            u.pooled_connections
        ));
    }
    // Each fix once, for the verdicts shown, in the order totals list them.
    fixes.sort_by_key(|v| VERDICTS.iter().position(|x| x == v));
    for v in fixes {
        out.push_str(&format!(
            "fix for {}: {}\n",
            paint(color, verdict_color(v), v.name()),
            audit_fix(v)
        ));
    }
    let counts: Vec<String> = r
        .totals()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| format!("{n} {}", v.name()))
        .collect();
    let failing = r.entries.iter().filter(|e| e.fails).count();
    out.push_str(&format!(
        "unclosed audit: {} construction(s) in {} file(s){}{}{}; {failing} fail the policy\n",
        r.entries.len(),
        r.scanned,
        if counts.is_empty() {
            String::new()
        } else {
            format!(": {}", counts.join(", "))
        },
        if r.skipped > 0 {
            format!(", {} skipped", r.skipped)
        } else {
            String::new()
        },
        if r.parse_errors > 0 {
            format!(", {} with syntax errors", r.parse_errors)
        } else {
            String::new()
        },
    ));
    out
}

/// The `unclosed-audit/1` object: every construction (serde_json escapes the text).
pub fn json(r: &AuditReport) -> Value {
    let constructions: Vec<Value> = r
        .entries
        .iter()
        .map(|e| {
            let c = &e.construction;
            json!({
                "file": e.file,
                "line": c.line,
                "column": c.column,
                "constructs": c.constructs.name(),
                "verdict": c.verdict.name(),
                "owner": c.owner,
                "why": c.why,
                "fix": audit_fix(c.verdict),
                "confirmed": e.confirmed.as_ref().map(|k| json!({
                    "findings": k.findings,
                    "leak": k.leak,
                    "noise": k.noise,
                    "pooled_connections": k.pooled_connections,
                    "log": k.log,
                })),
            })
        })
        .collect();
    let mut totals = serde_json::Map::new();
    for (v, n) in r.totals() {
        totals.insert(v.name().to_owned(), json!(n));
    }
    let mut out = json!({
        "schema": AUDIT_SCHEMA,
        "files": {"scanned": r.scanned, "skipped": r.skipped, "parse_errors": r.parse_errors},
        "constructions": constructions,
        "totals": totals,
    });
    if r.joined {
        out["unexplained"] = r
            .unexplained
            .iter()
            .map(|u| {
                json!({"file": u.file, "line": u.line, "function": u.function,
                       "findings": u.findings, "pooled_connections": u.pooled_connections})
            })
            .collect();
    }
    out
}

fn rule_id(v: Verdict) -> String {
    format!("audit-{}", v.name().replace('_', "-"))
}

fn message(e: &Entry) -> String {
    let c = &e.construction;
    let confirmed = e
        .confirmed
        .as_ref()
        .map(|k| {
            format!(
                " Confirmed by {}: {} finding(s), {} pooled connection(s).",
                k.log, k.findings, k.pooled_connections
            )
        })
        .unwrap_or_default();
    format!(
        "{} {} ({}): {}.{confirmed} {}",
        c.constructs.name(),
        c.verdict.name(),
        c.owner,
        c.why,
        audit_fix(c.verdict)
    )
}

/// SARIF 2.1.0: one result per problem (every construction with `all`), an error when it
/// fails the policy, a warning for other bugs, a note otherwise.
pub fn sarif(r: &AuditReport, all: bool, workspace: Option<&str>) -> Value {
    let shown: Vec<&Entry> = r.entries.iter().filter(|e| all || e.is_problem()).collect();
    let mut verdicts: Vec<Verdict> = shown.iter().map(|e| e.construction.verdict).collect();
    verdicts.sort();
    verdicts.dedup();
    let rules: Vec<Value> = verdicts
        .iter()
        .map(|v| {
            json!({
                "id": rule_id(*v),
                "name": v.name(),
                "shortDescription": {"text": v.name()},
                "fullDescription": {"text": audit_fix(*v)},
                "help": {"text": audit_fix(*v)},
            })
        })
        .collect();
    let results: Vec<Value> = shown
        .iter()
        .map(|e| {
            let c = &e.construction;
            let level = if e.fails {
                "error"
            } else if c.verdict.is_bug() {
                "warning"
            } else {
                "note"
            };
            json!({
                "ruleId": rule_id(c.verdict),
                "level": level,
                "message": {"text": message(e)},
                "locations": [{"physicalLocation": {
                    "artifactLocation": artifact_location(&e.file, workspace),
                    "region": {"startLine": c.line.max(1), "startColumn": c.column.max(1)},
                }}],
                "partialFingerprints": {"unclosedAudit/v1": e.fingerprint},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "unclosed",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// GitHub workflow annotations: errors for constructions that fail the policy, warnings for
/// other problems, at most 10 of each (what GitHub shows per step).
pub fn github(r: &AuditReport, workspace: Option<&str>) -> String {
    let mut out = String::new();
    let mut counts = [0usize; 2];
    let mut dropped = 0;
    for e in r.entries.iter().filter(|e| e.is_problem()) {
        let level = usize::from(!e.fails);
        if counts[level] >= GITHUB_ANNOTATIONS_PER_LEVEL {
            dropped += 1;
            continue;
        }
        counts[level] += 1;
        let c = &e.construction;
        let file = workspace
            .and_then(|w| e.file.strip_prefix(w))
            .map(|f| f.trim_start_matches('/'))
            .unwrap_or(e.file.trim_start_matches("./"));
        out.push_str(&format!(
            "::{} file={},line={},col={},title={}::{}\n",
            if level == 0 { "error" } else { "warning" },
            github_property(&terminal(file)),
            c.line,
            c.column,
            github_property(&format!("unclosed audit: {}", c.verdict.name())),
            github_data(&terminal(&message(e)))
        ));
    }
    if dropped > 0 {
        out.push_str(&format!(
            "::notice title=unclosed audit::{dropped} more constructions: see the JSON report\n"
        ));
    }
    out
}
