//! `scan`/`check --audit PATH`: the audit's verdict beside each call site of a log's
//! report, joined the way `audit --log` joins ([`SiteJoin`]).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use crate::pipeline::escape::terminal;
use crate::pipeline::group::{SiteSummary, Summary};
use crate::report::audit::{AuditReport, SiteJoin};
use crate::report::render::TABLE_ROWS;

/// A construction a site points at, as `scan`/`check` JSON shows it in a site's `audit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SiteHit {
    /// The audited file.
    pub file: String,
    /// The constructor's line.
    pub line: u32,
    /// What it builds.
    pub constructs: &'static str,
    /// The audit's verdict.
    pub verdict: &'static str,
    /// Who owns it.
    pub owner: String,
}

/// The constructions a site points at (none: no construction explains it).
pub fn hits(r: &AuditReport, join: &SiteJoin<'_>, site: &SiteSummary) -> Vec<SiteHit> {
    let Some(s) = &site.site else {
        return Vec::new();
    };
    let mut at = join.entries_at(s);
    at.sort_unstable();
    at.dedup();
    at.into_iter()
        .map(|i| {
            let e = &r.entries[i];
            let c = &e.construction;
            SiteHit {
                file: e.file.clone(),
                line: c.line,
                constructs: c.constructs.name(),
                verdict: c.verdict.name(),
                owner: c.owner.clone(),
            }
        })
        .collect()
}

/// Sets `audit` on each entry of a report's JSON `sites` (built from `s.sites()`, in that
/// order): the constructions the site points at, `null` when none does.
pub fn add_to_json(v: &mut Value, r: &AuditReport, s: &Summary) {
    let join = SiteJoin::new(r);
    let Some(sites) = v.get_mut("sites").and_then(Value::as_array_mut) else {
        return;
    };
    for (json, site) in sites.iter_mut().zip(s.sites()) {
        let h = hits(r, &join, site);
        let audit = if h.is_empty() {
            Value::Null
        } else {
            serde_json::to_value(h).unwrap_or(Value::Null)
        };
        if let Some(o) = json.as_object_mut() {
            o.insert("audit".into(), audit);
        }
    }
}

/// The lines below the table: each site the table shows with a call site, and the verdict
/// of the constructions it points at (`no construction` when none does).
pub fn write_text(w: &mut dyn Write, r: &AuditReport, s: &Summary) -> io::Result<()> {
    let join = SiteJoin::new(r);
    let sites: Vec<&SiteSummary> = s
        .sites()
        .into_iter()
        .filter(|x| x.site.is_some())
        .take(TABLE_ROWS)
        .collect();
    if sites.is_empty() {
        return Ok(());
    }
    writeln!(w, "\nAudit (--audit) of each call site:")?;
    let keys: Vec<String> = sites
        .iter()
        .map(|x| terminal(&x.site.as_ref().map(|s| s.key()).unwrap_or_default()).into_owned())
        .collect();
    let pad = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    for (site, key) in sites.into_iter().zip(keys) {
        let h = hits(r, &join, site);
        let said = said(&h, |o| terminal(o).into_owned());
        writeln!(w, "  {key:<pad$}  {said}")?;
    }
    Ok(())
}

/// `check --format markdown`: a section after the report, one row per call site (as many as
/// the table shows) with the verdicts of the constructions it points at.
pub fn markdown(r: &AuditReport, s: &Summary) -> String {
    use crate::report::ci::markdown_text;
    let join = SiteJoin::new(r);
    let mut out = String::from("\n### Audit (`--audit`)\n\n| Call site | Audit |\n|---|---|\n");
    for site in s.sites().into_iter().take(MARKDOWN_ROWS) {
        let Some(key) = site.site.as_ref().map(|x| x.key()) else {
            continue;
        };
        let h = hits(r, &join, site);
        let said = said(&h, markdown_text);
        out.push_str(&format!("| {} | {said} |\n", markdown_text(&key)));
    }
    out
}

/// What a site's line says of the constructions it points at, owners escaped by `escape`
/// for where the line goes.
fn said(h: &[SiteHit], escape: impl Fn(&str) -> String) -> String {
    if h.is_empty() {
        return "no construction".to_owned();
    }
    h.iter()
        .map(|x| {
            format!(
                "{} ({} at line {}, {})",
                x.verdict,
                x.constructs,
                x.line,
                escape(&x.owner)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Rows of the Markdown section at most (a step summary has a size limit).
const MARKDOWN_ROWS: usize = 50;
