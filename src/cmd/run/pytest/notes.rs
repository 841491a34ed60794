//! What pytest showed only in its warnings summary, said as notes for the report.

use std::collections::HashMap;
use std::sync::Arc;

use super::*;

impl Pytest {
    /// What pytest showed only in its warnings summary, said as notes for the report.
    pub fn notes(&mut self) -> Vec<String> {
        self.finish_entry();
        let mut read: HashMap<Arc<str>, Kinds> = HashMap::new();
        for (name, kinds) in &self.read {
            let id = self.id_of(name).unwrap_or_else(|| name.clone());
            let to = read.entry(id).or_default();
            add_all(to, kinds);
        }
        let file = |id: &str| id.split("::").next().unwrap_or(id).to_string();
        let mut hidden: Kinds = [0; 4];
        let mut by_test: Vec<(u64, Arc<str>)> = Vec::new();
        // Objects read beyond what a test's entries list may be those of a folded entry.
        let mut surplus: HashMap<String, Kinds> = HashMap::new();
        for (id, listed) in &self.listed {
            let r = read.get(id).copied().unwrap_or_default();
            let mut n = 0;
            for k in 0..4 {
                let h = listed[k].saturating_sub(r[k]);
                add(&mut hidden, k, h);
                n += h;
                add(
                    surplus.entry(file(id)).or_default(),
                    k,
                    r[k].saturating_sub(listed[k]),
                );
            }
            if n > 0 {
                by_test.push((n, id.clone()));
            }
        }
        for (id, r) in &read {
            if !self.listed.contains_key(id) {
                let s = surplus.entry(file(id)).or_default();
                add_all(s, r);
            }
        }
        let mut folded: Vec<(u64, &str)> = Vec::new();
        for (f, kinds) in &self.folded {
            let s = surplus.get(f).copied().unwrap_or_default();
            let mut n = 0;
            for k in 0..4 {
                let h = kinds[k].saturating_sub(s[k]);
                add(&mut hidden, k, h);
                n += h;
            }
            if n > 0 {
                folded.push((n, f));
            }
        }
        let mut outside = 0;
        for k in 0..4 {
            let h = self.outside[k].saturating_sub(self.read_outside[k]);
            add(&mut hidden, k, h);
            outside += h;
        }
        if hidden.iter().all(|&n| n == 0) {
            return Vec::new();
        }
        by_test.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        folded.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let what: Vec<String> = (0..4)
            .filter(|&k| hidden[k] > 0)
            .map(|k| {
                let (one, many) = KIND_WORDS[k];
                format!("{} {}", hidden[k], if hidden[k] == 1 { one } else { many })
            })
            .collect();
        let mut wheres: Vec<String> = by_test
            .iter()
            .take(NOTE_TESTS)
            .map(|(n, id)| format!("{n} under {id}"))
            .collect();
        if by_test.len() > NOTE_TESTS {
            let rest: u64 = by_test[NOTE_TESTS..].iter().map(|(n, _)| n).sum();
            let more = by_test.len() - NOTE_TESTS;
            wheres.push(format!(
                "{rest} under {more} more test{}",
                if more == 1 { "" } else { "s" }
            ));
        }
        for (n, f) in &folded {
            wheres.push(format!(
                "{n} in an entry folded as `{f}: N warnings`, naming no test"
            ));
        }
        if outside > 0 {
            wheres.push(format!("{outside} raised outside any test"));
        }
        let why = if self.unraisable.iter().any(|&n| n > 0) {
            "Under -W error::ResourceWarning aiohttp's own records are never printed, so what \
             they held is not known; they are not counted above."
        } else {
            "pytest shows a test's captured asyncio records (what an object held, where it was \
             made) only when the test fails, so they are not counted above; their connectors \
             are, where printed. Run pytest with -rA to have every test's records read."
        };
        vec![format!(
            "pytest's warnings summary lists {} not read elsewhere ({}). {why}",
            what.join(" and "),
            wheres.join(", ")
        )]
    }
}
