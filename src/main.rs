//! `unclosed`: parse the command line, run it, exit with its status.

use clap::Parser;

fn main() {
    let cli = unclosed::cmd::cli::Cli::parse();
    std::process::exit(unclosed::cmd::main(cli.command));
}
