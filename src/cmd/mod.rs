//! The commands: the only code that prints, reads the environment or exits. A file per
//! command; each gets its writers and environment in an [`io::Io`], so it runs the same in a
//! test as in the process ([`execute`]).

mod audit;
mod check;
pub mod cli;
mod filter;
mod gate;
mod generate;
mod grammars;
#[cfg(test)]
mod in_process;
mod io;
mod metrics;
mod printer;
mod run;
mod scan;
mod setup;
mod tail;
mod tally;

use crate::cmd::cli::Command;
pub use crate::cmd::io::{Env, Io};
use crate::cmd::io::{is_broken_pipe, say_error};
use crate::exit;

/// Runs a command in this process, on its standard streams and environment, and returns
/// the exit status.
pub fn main(command: Command) -> i32 {
    // Unlocked handles: `run` copies the command's output to the same streams from threads.
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        env: Env::from_process(),
    };
    execute(command, &mut io)
}

/// Runs a command on `io` and returns its exit status; an error is said on `io.err`.
pub fn execute(command: Command, io: &mut Io<'_>) -> i32 {
    let result = match command {
        Command::Scan(args) => scan::run(&args, io),
        Command::Tail(args) => tail::run(&args, io),
        Command::Filter(args) => filter::run(&args, io),
        Command::Check(args) => check::run(&args, io),
        Command::Run(args) => run::run(&args, io),
        Command::Audit(args) => audit::run(&args, io),
        Command::Grammars(args) => grammars::run(&args, io),
        Command::Completions(args) => generate::completions(&args, io),
        Command::Man(args) => generate::man(&args, io),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => exit::OK,
        Err(e) => {
            say_error(io.err, &e);
            exit::ERROR
        }
    }
}

#[cfg(test)]
mod tests;
