//! The commands: the only code that prints, reads the environment or exits.

pub mod scan;
pub mod cli;
pub mod run;
pub mod tail;
