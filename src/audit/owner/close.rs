//! How closes are found: a `close()` that is awaited (or a connector's, at once), in
//! `finally` or with nothing that can fail before it, not in `__del__`; and the closes of a
//! stored object anywhere in the file.

use tree_sitter::Node;

use super::Audit;
use super::local::Uses;
use super::stored::Targets;
use crate::audit::Constructs;
use crate::audit::syntax::{descendants, name_of, own_nodes, qualified_name, statement_of};

#[derive(Default)]
pub(super) struct Closes {
    pub(super) closed: Option<String>,
    pub(super) note: Option<String>,
}

impl<'t> Audit<'_, 't> {
    /// Whether nothing that can fail (a call, an await) runs between byte `after` and the
    /// statement holding `close` in `scope`: then a close outside `finally` runs anyway.
    pub(super) fn nothing_before(&self, scope: Node<'t>, after: usize, close: Node<'t>) -> bool {
        let start = statement_of(close).start_byte();
        !descendants(scope).into_iter().any(|n| {
            matches!(n.kind(), "call" | "await") && n.start_byte() >= after && n.end_byte() <= start
        })
    }

    /// A `X.close()` call: a close if awaited (or any call, for a connector: aiohttp's
    /// connector closes at once), not in `__del__`.
    pub(super) fn close_event(
        &self,
        scope: Node<'t>,
        call: Node<'t>,
        kind: Constructs,
        u: &mut Uses,
        what: &str,
    ) {
        let line = self.s.line(call);
        if name_of(self.s, scope) == "__del__" {
            u.not_a_close.get_or_insert(format!(
                "{what} at line {line} runs only in __del__, at garbage collection (too late, \
                 and without an event loop to await it)"
            ));
            return;
        }
        if !kind.is_connector() && !self.awaited(call) {
            u.not_a_close.get_or_insert(format!(
                "{what} at line {line} is never awaited, so the coroutine never runs"
            ));
            return;
        }
        if self.in_finally(call) {
            u.guaranteed
                .get_or_insert(format!("closed in `finally` at line {line}"));
        } else if self.nothing_before(scope, u.after, call) {
            u.guaranteed.get_or_insert(format!(
                "closed at line {line}, with nothing that can fail before it"
            ));
        } else {
            u.unguaranteed.get_or_insert(format!(
                "closed at line {line}, but not in `finally`: an exception or early return \
                 before it skips the close"
            ));
        }
    }

    /// Whether a call's coroutine is awaited: under `await`, or run by a loop
    /// (`asyncio.run`, `run_until_complete`), possibly through wrappers (`wait_for`, `gather`).
    pub(super) fn awaited(&self, call: Node<'t>) -> bool {
        let mut x = call;
        while let Some(p) = x.parent() {
            match p.kind() {
                "await" => return true,
                "call" => {
                    if self.runs_a_loop(p) {
                        return true;
                    }
                }
                "argument_list"
                | "keyword_argument"
                | "parenthesized_expression"
                | "list"
                | "tuple"
                | "list_splat" => {}
                _ => return false,
            }
            x = p;
        }
        false
    }

    pub(super) fn in_finally(&self, n: Node<'t>) -> bool {
        let mut p = n.parent();
        while let Some(x) = p {
            match x.kind() {
                "finally_clause" => return true,
                "function_definition" | "lambda" => return false,
                _ => p = x.parent(),
            }
        }
        false
    }

    /// Finds a close of the place in these functions (or at module level).
    pub(super) fn closes_of(&self, t: &Targets<'t>, kind: Constructs) -> Closes {
        let mut out = Closes::default();
        let cache = t.cache;
        let mut scopes: Vec<Node<'t>> = self.s.functions.clone();
        scopes.push(self.s.root);
        for f in scopes {
            let mut names: Vec<String> = t.anywhere.clone();
            if t.functions.contains(&f) {
                names.extend(t.inside.iter().cloned());
            }
            let targets = names.clone();
            // Names bound to the place in this function (`s = self._session`, `for s in
            // self._sessions.values()`), then closes of them.
            let nodes = own_nodes(f);
            for n in &nodes {
                let (left, right) = match n.kind() {
                    "assignment" => (
                        n.child_by_field_name("left"),
                        n.child_by_field_name("right"),
                    ),
                    "for_statement" => (
                        n.child_by_field_name("left"),
                        n.child_by_field_name("right"),
                    ),
                    _ => continue,
                };
                if let (Some(l), Some(r)) = (left, right) {
                    let rt = self.text(r);
                    let binds = targets.iter().any(|t| {
                        rt == t || (cache || n.kind() == "for_statement") && rt.contains(t.as_str())
                    });
                    if binds && l.kind() == "identifier" {
                        names.push(self.text(l).to_owned());
                    }
                }
            }
            for n in nodes {
                if n.kind() != "call" {
                    continue;
                }
                let Some(callee) = n
                    .child_by_field_name("function")
                    .filter(|c| c.kind() == "attribute")
                else {
                    continue;
                };
                let attr = callee
                    .child_by_field_name("attribute")
                    .map(|a| self.text(a))
                    .unwrap_or("");
                if !matches!(attr, "close" | "__aexit__") {
                    continue;
                }
                let object = callee
                    .child_by_field_name("object")
                    .map(|o| self.text(o))
                    .unwrap_or("");
                let hit = names
                    .iter()
                    .any(|t| object == t || cache && object.starts_with(&format!("{t}[")));
                if !hit {
                    continue;
                }
                let line = self.s.line(n);
                let in_del = f != self.s.root && name_of(self.s, f) == "__del__";
                if in_del {
                    out.note.get_or_insert(format!(
                        "{object}.{attr}() at line {line} runs only in __del__, at garbage \
                         collection"
                    ));
                } else if !kind.is_connector() && !self.awaited(n) {
                    out.note.get_or_insert(format!(
                        "{object}.{attr}() at line {line} is never awaited"
                    ));
                } else {
                    let place = if f == self.s.root {
                        "at module level".to_owned()
                    } else {
                        format!("in {}", qualified_name(self.s, f))
                    };
                    out.closed
                        .get_or_insert(format!("closed {place} (line {line})"));
                }
            }
        }
        out
    }
}
