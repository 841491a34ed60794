//! Tests' way to run a command in-process: parsed as the binary parses it, given buffers for
//! its writers, its status and what it wrote given back.

use clap::Parser;

use crate::cmd::cli::Cli;
use crate::cmd::{Env, Io, execute};

/// What a command wrote and the status it gave.
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) out: String,
    pub(crate) err: String,
}

/// Runs `unclosed ARGS…` with `env`.
pub(crate) fn run_with(env: Env, args: &[&str]) -> Ran {
    let cli = Cli::try_parse_from(std::iter::once("unclosed").chain(args.iter().copied()))
        .expect("arguments parse");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        env,
    };
    let code = execute(cli.command, &mut io);
    Ran {
        code,
        out: String::from_utf8(out).expect("UTF-8 out"),
        err: String::from_utf8(err).expect("UTF-8 err"),
    }
}
