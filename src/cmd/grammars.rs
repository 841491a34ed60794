//! `unclosed grammars`: the envelopes and record formats the tool reads, the user's first.

use std::io::Write;

use anyhow::Result;

use crate::cmd::cli::GrammarArgs;
use crate::cmd::io::Io;
use crate::cmd::setup::load_grammars;
use crate::exit;

/// Lists the grammars, a line each.
pub fn run(args: &GrammarArgs, io: &mut Io<'_>) -> Result<i32> {
    let all = load_grammars(&args.grammar_file)?;
    let mut out = std::io::BufWriter::new(&mut *io.out);
    for g in &all {
        let layer = if g.transport { "transport" } else { "record" };
        writeln!(out, "{:<18} {layer:<9}  {}", g.name, g.summary)?;
    }
    out.flush()?;
    Ok(exit::OK)
}
