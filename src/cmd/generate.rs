//! `unclosed completions` and `unclosed man`: shell completions and man pages, generated
//! from the same definitions as `--help`.

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cmd::cli::{Cli, CompletionsArgs, ManArgs};
use crate::cmd::io::Io;
use crate::exit;
use crate::pipeline::escape::terminal;

/// `unclosed completions SHELL`: the script on stdout.
pub fn completions(args: &CompletionsArgs, io: &mut Io<'_>) -> Result<i32> {
    let mut cmd = Cli::command();
    // Into a buffer first: clap_complete panics when its writer fails (`… | head`), and a
    // closed pipe is a quiet end here.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "unclosed", &mut script);
    io.out.write_all(&script)?;
    io.out.flush()?;
    Ok(exit::OK)
}

/// `unclosed man [DIR]`: the main page on stdout, or every page into DIR (their paths on
/// stdout).
pub fn man(args: &ManArgs, io: &mut Io<'_>) -> Result<i32> {
    let cmd = Cli::command();
    let Some(dir) = &args.dir else {
        clap_mangen::Man::new(cmd).render(&mut io.out)?;
        io.out.flush()?;
        return Ok(exit::OK);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut pages = vec![("unclosed".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("unclosed-{}", sub.get_name());
        pages.push((
            name.clone(),
            sub.clone()
                .display_name(name)
                .version(env!("CARGO_PKG_VERSION")),
        ));
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        std::fs::write(&path, buf).with_context(|| format!("{}: cannot write", path.display()))?;
        writeln!(io.out, "{}", terminal(&path.display().to_string()))?;
    }
    Ok(exit::OK)
}
