//! LiteLLM #11657's shape: a sync function runs a coroutine that makes a session in a new
//! event loop per call (`asyncio.run`, `run_until_complete`).

use tree_sitter::Node;

use super::Audit;
use crate::audit::syntax::{enclosing_function, is_async, qualified_name, value_holder};

impl<'t> Audit<'_, 't> {
    /// A sync function of this file that runs `f` (or a coroutine awaiting it) with
    /// `asyncio.run(…)` / `run_until_complete(…)`, and the line.
    pub(super) fn run_per_call(&self, f: Node<'t>) -> Option<(String, u32)> {
        if !is_async(f) {
            return None;
        }
        let mut reach = vec![f];
        let mut i = 0;
        while i < reach.len() && reach.len() < 32 {
            for site in self.call_sites(reach[i]) {
                if let Some(caller) = enclosing_function(site)
                    && is_async(caller)
                    && !reach.contains(&caller)
                    && value_holder(site).kind() == "await"
                {
                    reach.push(caller);
                }
            }
            i += 1;
        }
        for coroutine in reach {
            for site in self.call_sites(coroutine) {
                let runner = site
                    .parent()
                    .filter(|p| p.kind() == "argument_list")
                    .and_then(|p| p.parent())
                    .filter(|c| self.runs_a_loop(*c));
                if let Some(r) = runner
                    && let Some(sync) = enclosing_function(r)
                    && !is_async(sync)
                {
                    return Some((qualified_name(self.s, sync), self.s.line(r)));
                }
            }
        }
        None
    }

    pub(super) fn runs_a_loop(&self, call: Node<'t>) -> bool {
        call.child_by_field_name("function").is_some_and(|f| {
            let t = self.text(f);
            t == "asyncio.run" || t.ends_with("run_until_complete")
        })
    }
}
