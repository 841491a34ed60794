//! The pure pipeline: bytes of a log in, findings out. No files, terminals, environment,
//! clock, threads or async here (`tests/code_layers.rs` checks).

pub(crate) mod assemble;
pub mod classify;
pub(crate) mod clean;
pub mod envelope;
pub(crate) mod escape;
pub mod filter;
pub mod group;
pub mod kube;
pub(crate) mod lines;
pub mod pair;
pub(crate) mod parse;
pub(crate) mod python;
pub mod scan;
