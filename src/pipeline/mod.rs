//! The pure pipeline: bytes of a log in, findings out. No files, terminals, environment,
//! clock, threads or async here (`tests/code_layers.rs` checks).

pub mod assemble;
pub mod classify;
pub mod clean;
pub mod envelope;
pub mod escape;
pub mod filter;
pub mod group;
pub mod lines;
pub mod pair;
pub mod parse;
pub mod python;
pub mod scan;
