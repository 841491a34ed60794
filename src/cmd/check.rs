//! `unclosed check`: read logs like `scan`, then apply the CI policy and write the report
//! CI consumes.

use anyhow::Result;

use crate::cmd::cli::CheckArgs;
use crate::cmd::gate::Gate;
use crate::cmd::io::Io;
use crate::cmd::scan::Reading;
use crate::cmd::setup::Setup;
use crate::cmd::tally::Tally;
use crate::exit;

/// Checks the files (standard input for none) against the policy.
pub fn run(args: &CheckArgs, io: &mut Io<'_>) -> Result<i32> {
    let setup = Setup::new(&args.read)?;
    let mut gate = Gate::new(&args.gate)?;
    let mut audit_failed = false;
    if !args.audit.is_empty() {
        let (audit, failed) = crate::cmd::audit::for_sites(&args.audit, &mut *io.err)?;
        gate.audit = Some(audit);
        audit_failed = failed;
    }
    let mut tally = Tally::new(setup.rules.clone());
    let reading = Reading {
        setup: &setup,
        threads: args.parallel.threads,
        err: &mut *io.err,
        env: &io.env,
    };
    let failed = reading.files(&args.files, &mut tally, &mut ())? | audit_failed;
    if tally.inputs.is_empty() {
        return Ok(exit::ERROR);
    }
    if tally.lines() == 0 && !args.allow_empty {
        writeln!(
            io.err,
            "unclosed: no input lines: a check of an empty log proves nothing (did the step capture \
             its output?); --allow-empty passes it"
        )?;
        let code = gate.report(&tally.summary, &tally.inputs, io)?;
        return Ok(if failed || code == exit::ERROR {
            exit::ERROR
        } else {
            exit::POLICY
        });
    }
    let code = gate.report(&tally.summary, &tally.inputs, io)?;
    Ok(if failed { exit::ERROR } else { code })
}
