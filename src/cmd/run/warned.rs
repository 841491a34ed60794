//! A test's `-W` warnings and its asyncio records of the same objects, both shown by
//! pytest, counted once.
//!
//! With pytest's warnings plugin off (`-p no:warnings`), the ResourceWarnings a test raises go
//! to its captured stderr, and asyncio's records of the same objects to its captured log:
//! a failed test's report (or every test's, with `-rA`) shows both, in two sections, with
//! other blocks between them, so the pipeline cannot join them as it joins a warning printed
//! next to its record. Here a finding made only of warnings, printed in a test's section, is
//! held to the end of the run and dropped when every one of its objects (kind and repr) had
//! its record read in a section of the same test. Counted by object, so an address Python
//! reused for a second object under the same test is matched once per record.

use std::collections::HashMap;
use std::sync::Arc;

use crate::cmd::run::pytest::Region;
use crate::pipeline::group::Triaged;
use crate::pipeline::pair::{Decided, Finding};
use crate::pipeline::parse::Kind;

/// Findings held at most; beyond, they are counted at once (as they were before).
const MAX_HELD: usize = 4096;
/// Records remembered at most.
const MAX_LOGGED: usize = 1 << 16;

/// What a finding is after it was read in a test's section.
type Held = (Decided, Triaged, Option<Region>);

/// Warnings-only findings held, and the records read, per test.
#[derive(Debug, Default)]
pub struct Warned {
    held: Vec<Held>,
    logged: HashMap<(Arc<str>, Kind, String), u32>,
    logged_len: usize,
}

/// The test whose section (after the run) printed a finding, if one did.
fn section(region: Option<&Region>) -> Option<&Arc<str>> {
    region.filter(|r| !r.live).map(|r| &r.test)
}

impl Warned {
    /// Takes a finding printed in `region`: held (given back `None`) when it is made only
    /// of warnings printed in a test's section; otherwise its records are remembered and it
    /// is given back to be counted.
    pub fn take(&mut self, f: Finding, t: Triaged, region: Option<Region>) -> Option<Held> {
        let Some(test) = section(region.as_ref()) else {
            return Some((Decided::Finding(f), t, region));
        };
        let warnings_only = f.objects.iter().all(|o| o.warned && !o.logged);
        if warnings_only && self.held.len() < MAX_HELD {
            self.held.push((Decided::Finding(f), t, region));
            return None;
        }
        for o in f.objects.iter().filter(|o| o.logged) {
            if let Some(repr) = &o.repr
                && self.logged_len < MAX_LOGGED
            {
                *self
                    .logged
                    .entry((test.clone(), o.kind, repr.clone()))
                    .or_default() += 1;
                self.logged_len += 1;
            }
        }
        Some((Decided::Finding(f), t, region))
    }

    /// At the end of the run: the held findings that are not the warnings of records read
    /// under the same test.
    pub fn release(&mut self) -> Vec<Held> {
        let held = std::mem::take(&mut self.held);
        held.into_iter()
            .filter(|(d, _, region)| {
                let (Decided::Finding(f), Some(test)) = (d, section(region.as_ref())) else {
                    return true;
                };
                !self.repeats_records(test, f)
            })
            .collect()
    }

    /// Whether every object of `f` had its record read under `test`; if so, those records
    /// are used up.
    fn repeats_records(&mut self, test: &Arc<str>, f: &Finding) -> bool {
        let keys: Option<Vec<(Arc<str>, Kind, String)>> = f
            .objects
            .iter()
            .map(|o| Some((test.clone(), o.kind, o.repr.clone()?)))
            .collect();
        let Some(keys) = keys else { return false };
        let mut want: HashMap<&(Arc<str>, Kind, String), u32> = HashMap::new();
        for k in &keys {
            *want.entry(k).or_default() += 1;
        }
        if want
            .iter()
            .any(|(k, n)| self.logged.get(*k).copied().unwrap_or(0) < *n)
        {
            return false;
        }
        for (k, n) in want {
            if let Some(have) = self.logged.get_mut(k) {
                *have -= n;
            }
        }
        true
    }
}
