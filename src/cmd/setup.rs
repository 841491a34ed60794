//! What every reading command builds once from its options: the grammars, the call-site
//! rules, the shared searchers and the limits.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::cmd::cli::ReadArgs;
use crate::pipeline::envelope::Grammar;
use crate::pipeline::group::SiteRules;
use crate::pipeline::scan::{Prefilter, Scanner};

/// Loads the shipped grammars and the user's, the user's tried first.
pub fn load_grammars(files: &[String]) -> Result<Vec<Grammar>> {
    let mut all = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(path)
            .with_context(|| format!("{path}: cannot read grammar"))?;
        let g = Grammar::from_toml(&src).map_err(|e| anyhow!("{path}: {e}"))?;
        if !g.has_samples() {
            return Err(anyhow!(
                "{path}: a grammar needs at least one [[sample]] to be checked against"
            ));
        }
        all.push(g);
    }
    // A user's grammar of a shipped one's name replaces it.
    let builtin = Grammar::builtin()
        .into_iter()
        .filter(|b| !all.iter().any(|g: &Grammar| g.name == b.name));
    all.extend(builtin.collect::<Vec<_>>());
    Ok(all)
}

/// What every reading command needs, built once from [`ReadArgs`].
pub struct Setup {
    /// The grammars, the user's first.
    pub grammars: Vec<Grammar>,
    /// `--grammar`, as an index into `grammars`.
    pub forced: Option<usize>,
    /// `--skip-frames`.
    pub rules: SiteRules,
    /// Shared literal searchers.
    pub prefilter: Prefilter,
    /// `--max-line-bytes`.
    pub max_line: usize,
    /// `--flush-ms`.
    pub flush: Duration,
}

impl Setup {
    /// Checks and loads what the options name.
    pub fn new(r: &ReadArgs) -> Result<Setup> {
        let grammars = load_grammars(&r.grammar_file)?;
        let forced =
            match r.grammar.as_deref() {
                None => None,
                Some(name) => Some(grammars.iter().position(|g| g.name == name).ok_or_else(
                    || {
                        let names: Vec<&str> = grammars.iter().map(|g| g.name.as_str()).collect();
                        anyhow!("unknown grammar '{name}'; known: {}", names.join(", "))
                    },
                )?),
            };
        let rules = SiteRules::new(&r.skip_frames)
            .context("--skip-frames")?
            .with_in_app(&r.in_app)
            .context("--in-app")?;
        if r.max_line_bytes < 1024 {
            return Err(anyhow!("--max-line-bytes must be at least 1024"));
        }
        Ok(Setup {
            grammars,
            forced,
            rules,
            prefilter: Prefilter::default(),
            max_line: r.max_line_bytes,
            flush: Duration::from_millis(r.flush_ms),
        })
    }

    /// A scanner for one input.
    pub fn scanner(&self) -> Scanner<'_> {
        Scanner::new(&self.grammars, self.forced, &self.prefilter).max_line(self.max_line)
    }

    /// A scanner for one input read with grammar `g`, chosen elsewhere (a part of a file
    /// whose first part chose it).
    pub fn scanner_with(&self, g: usize) -> Scanner<'_> {
        Scanner::new(&self.grammars, Some(g), &self.prefilter).max_line(self.max_line)
    }

    /// Whether the survey of a file must look for journald's byte-array words: the grammar
    /// forced is journald's, or the file's leading bytes, from which its envelope is chosen,
    /// allow journald JSON (when unsure, yes).
    pub fn may_be_journald(&self, file: &std::fs::File) -> bool {
        if let Some(g) = self.forced {
            return self.grammars[g].name == "journald-json";
        }
        use std::os::unix::fs::FileExt;
        let mut head = vec![0u8; crate::pipeline::scan::DETECT_BYTES + 64 * 1024];
        let mut have = 0;
        while have < head.len() {
            match file.read_at(&mut head[have..], have as u64) {
                Ok(0) => break,
                Ok(n) => have += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
        Prefilter::may_be_journald(&head[..have])
    }
}
