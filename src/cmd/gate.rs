//! The CI gate of `check` and `run`: the policy and baseline the options name, the report
//! in the format CI consumes, and the exit status the policy gives.

use std::io::{self, Write};

use anyhow::{Context, Result, anyhow};

use crate::cmd::cli::{CheckFormat, FailOnChoice, GateArgs};
use crate::cmd::io::{Io, is_broken_pipe};
use crate::exit;
use crate::gate::policy::{self, Baseline, Policy};
use crate::pipeline::classify::{Label, Labels};
use crate::pipeline::escape::terminal;
use crate::pipeline::group::Summary;
use crate::report::audit::{AuditReport, sites};
use crate::report::{self, InputReport, ci};

/// The policy, the baseline and where the report goes.
pub struct Gate<'a> {
    args: &'a GateArgs,
    policy: Policy,
    baseline: Option<Baseline>,
    /// Documents (JSON, JUnit, SARIF, Markdown) go to stderr when no `--output` names a file:
    /// under `run`, stdout carries the command's own output.
    documents_to_stderr: bool,
    /// `check --audit`: the constructions whose verdicts the report shows beside its sites.
    pub audit: Option<AuditReport>,
}

/// The labels `--fail-on` names (none named: the policy's default).
/// The baseline file `path` names, read and parsed (`check` and `audit`); errors name it.
pub(crate) fn read_baseline(path: Option<&std::path::Path>) -> Result<Option<Baseline>> {
    let Some(path) = path else { return Ok(None) };
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{name}: cannot read the baseline"))?;
    Ok(Some(
        Baseline::parse(&text).map_err(|e| anyhow!("{name}: {e}"))?,
    ))
}

fn fail_on(choices: &[FailOnChoice]) -> Labels {
    if choices.is_empty() {
        return Policy::default().fail_on;
    }
    let mut f = Labels::NONE;
    for c in choices {
        match c {
            FailOnChoice::Leak => f.insert(Label::Leak),
            FailOnChoice::Noise => f.insert(Label::Noise),
            FailOnChoice::Unknown => f.insert(Label::Unknown),
            FailOnChoice::Any => f = Labels::ALL,
        }
    }
    f
}

impl<'a> Gate<'a> {
    /// Reads the baseline the options name.
    pub fn new(args: &'a GateArgs) -> Result<Gate<'a>> {
        let baseline = read_baseline(args.baseline.as_deref())?;
        Ok(Gate {
            args,
            policy: Policy {
                fail_on: fail_on(&args.fail_on),
                max_pooled: args.max_pooled_connections,
                allow_unread: args.allow_unread,
            },
            baseline,
            documents_to_stderr: false,
            audit: None,
        })
    }

    /// The gate of `unclosed run`: a document report never lands in the command's stdout.
    pub fn for_run(mut self) -> Self {
        self.documents_to_stderr = true;
        self
    }

    /// Writes the baseline or the report, and returns the exit status the policy gives.
    pub fn report(
        &self,
        summary: &Summary,
        inputs: &[InputReport],
        io: &mut Io<'_>,
    ) -> Result<i32> {
        match self.write_report(summary, inputs, io) {
            // `… | head`: the report is cut short, but the exit status is the policy's.
            Err(e) if is_broken_pipe(&e) => {
                let verdict = policy::evaluate(summary, &self.policy, self.baseline.as_ref());
                let failed = self.args.write_baseline.is_none() && verdict.failed();
                Ok(if failed { exit::POLICY } else { exit::OK })
            }
            other => other,
        }
    }

    fn write_report(
        &self,
        summary: &Summary,
        inputs: &[InputReport],
        io: &mut Io<'_>,
    ) -> Result<i32> {
        let document = !matches!(self.args.format, CheckFormat::Table | CheckFormat::Github);
        let mut quiet = io::sink();
        let target: &mut dyn Write = if self.args.quiet {
            &mut quiet
        } else if self.documents_to_stderr && document && self.args.output.is_none() {
            &mut *io.err
        } else {
            &mut *io.out
        };
        let mut out = io::BufWriter::new(target);
        let color = io.env.color(self.args.color);
        let width = io.env.stdout_width;
        // A document written to a file is not fitted to the terminal.
        let doc_width = width.filter(|_| self.args.output.is_none());
        if let Some(path) = &self.args.write_baseline {
            let text = Baseline::write(summary);
            std::fs::write(path, &text)
                .with_context(|| format!("{}: cannot write the baseline", path.display()))?;
            report::write_table(&mut out, summary, inputs, color, width)?;
            let n = text
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .count();
            writeln!(
                out,
                "Wrote {n} call site{} to the baseline {}.",
                if n == 1 { "" } else { "s" },
                terminal(&path.display().to_string())
            )?;
            out.flush()?;
            return Ok(exit::OK);
        }
        let verdict = policy::evaluate(summary, &self.policy, self.baseline.as_ref());
        let ws = io.env.github_workspace.as_deref();
        let rendered = match self.args.format {
            CheckFormat::Table => {
                let mut b = Vec::new();
                let color = color && self.args.output.is_none();
                report::write_table(&mut b, summary, inputs, color, doc_width)?;
                if let Some(audit) = &self.audit {
                    sites::write_text(&mut b, audit, summary)?;
                }
                report::write_verdict(&mut b, &verdict, color, doc_width)?;
                b
            }
            CheckFormat::Json => {
                let json = report::check_json(summary, inputs, &verdict);
                let mut b = match &self.audit {
                    None => serde_json::to_vec_pretty(&json)?,
                    Some(audit) => {
                        let mut v = serde_json::to_value(json)?;
                        sites::add_to_json(&mut v, audit, summary);
                        serde_json::to_vec_pretty(&v)?
                    }
                };
                b.push(b'\n');
                b
            }
            CheckFormat::Markdown => {
                let mut md = ci::markdown(&verdict, summary, inputs);
                if let Some(audit) = &self.audit {
                    md.push_str(&sites::markdown(audit, summary));
                }
                md.into_bytes()
            }
            CheckFormat::Junit => ci::junit(&verdict).into_bytes(),
            CheckFormat::Github => ci::github(&verdict, ws).into_bytes(),
            CheckFormat::Sarif => {
                let mut b = serde_json::to_vec_pretty(&ci::sarif(&verdict, inputs, ws))?;
                b.push(b'\n');
                b
            }
        };
        match &self.args.output {
            Some(path) => {
                std::fs::write(path, &rendered)
                    .with_context(|| format!("{}: cannot write the report", path.display()))?;
                report::write_table(&mut out, summary, inputs, color, width)?;
                report::write_verdict(&mut out, &verdict, color, width)?;
            }
            None => out.write_all(&rendered)?,
        }
        out.flush()?;
        Ok(if verdict.failed() {
            exit::POLICY
        } else {
            exit::OK
        })
    }
}
