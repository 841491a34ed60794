//! The join of a log's call sites to the audited constructions, shared by `audit --log`
//! and `scan`/`check --audit`.

use crate::pipeline::group::{Site, Summary};
use crate::report::audit::{AuditReport, Confirmation, Entry, Unexplained};

/// Path components, `\` taken as `/` and `.` parts dropped.
fn components(path: &str) -> Vec<&str> {
    path.split(['/', '\\'])
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// How many trailing components two paths share.
fn common_tail(a: &[&str], b: &[&str]) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// Which constructions a log's call site points at: a frame whose path names an audited
/// file (the most trailing parts in common, one file only) and whose line is a
/// construction's (or the session's of a connector made inline in it), or else a line in
/// that file calling into the function that makes it. The site's own frame and its
/// `created_in` frame (the library line behind an application's call) count the same way.
/// `audit --log` and `scan`/`check --audit` join through it.
pub struct SiteJoin<'r> {
    entries: &'r [Entry],
    files: Vec<&'r str>,
    parts: Vec<Vec<&'r str>>,
}

impl<'r> SiteJoin<'r> {
    /// Ready to join sites to the report's constructions.
    pub fn new(r: &'r AuditReport) -> Self {
        let mut files: Vec<&str> = r.entries.iter().map(|e| e.file.as_str()).collect();
        files.dedup();
        let parts = files.iter().map(|f| components(f)).collect();
        SiteJoin {
            entries: &r.entries,
            files,
            parts,
        }
    }

    /// The audited file a log path names, if exactly one fits best.
    fn file_of(&self, path: &str) -> Option<&'r str> {
        let p = components(path);
        let scores: Vec<usize> = self.parts.iter().map(|f| common_tail(f, &p)).collect();
        let best = *scores.iter().max()?;
        let mut at = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == best && best > 0);
        let (i, _) = at.next()?;
        at.next().is_none().then_some(self.files[i])
    }

    /// Indices of the report's entries the site points at, frame by frame (an entry both
    /// frames point at is there twice).
    pub fn entries_at(&self, s: &Site) -> Vec<usize> {
        let mut frames = vec![(s.file.to_string(), s.line)];
        if let Some(v) = &s.created_in {
            frames.push((v.file.to_string(), v.line));
        }
        let mut out = Vec::new();
        for (path, line) in frames {
            let Some(file) = self.file_of(&path) else {
                continue;
            };
            // The construction at the line, and a connector made inline in it.
            let at = |e: &Entry| {
                e.construction.line == line || e.construction.session_line == Some(line)
            };
            let calls = |e: &Entry| e.construction.called_from.contains(&line);
            let here = |pick: &dyn Fn(&Entry) -> bool| -> Vec<usize> {
                self.entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.file == file && pick(e))
                    .map(|(i, _)| i)
                    .collect()
            };
            let direct = here(&at);
            out.extend(if direct.is_empty() {
                here(&calls)
            } else {
                direct
            });
        }
        out
    }
}

/// Joins what one log showed to the constructions (through [`SiteJoin`]): each site marks
/// the constructions it points at as confirmed with its counts. Sites that confirm nothing
/// are listed as unexplained.
pub fn join(r: &mut AuditReport, summary: &Summary, log: &str) {
    r.joined = true;
    for site in summary.sites() {
        let Some(s) = &site.site else { continue };
        let hits = SiteJoin::new(r).entries_at(s);
        for &i in &hits {
            let k = r.entries[i].confirmed.get_or_insert_with(|| Confirmation {
                log: log.to_owned(),
                ..Confirmation::default()
            });
            if !k.log.split(", ").any(|l| l == log) {
                k.log = format!("{}, {log}", k.log);
            }
            k.findings += site.counts.findings;
            k.leak += site.counts.leak;
            k.noise += site.counts.noise;
            k.pooled_connections += site.counts.pooled_connections;
        }
        if hits.is_empty() {
            r.unexplained.push(Unexplained {
                file: s.file.to_string(),
                line: s.line,
                function: s.function.as_deref().map(str::to_owned),
                findings: site.counts.findings,
                pooled_connections: site.counts.pooled_connections,
            });
        }
    }
}
