//! The CI gate: a policy and a baseline decide whether a run fails.

pub(crate) mod policy;
