//! A local name bound to the object: what its uses do (close it, return it, store it, hand
//! it on), and the decision they add up to.

use tree_sitter::Node;

use super::{Audit, Decision, LOOKS_ONLY, connector_owner_false, decision};
use crate::audit::syntax::{
    children, descendants, enclosing_function, enclosing_scope, is_async_with, qualified_name,
    statement_of, value_holder, within,
};
use crate::audit::{Constructs, Verdict};

/// What happened to a name bound to the object, read from its uses.
#[derive(Default)]
pub(super) struct Uses {
    /// Where the uses start (the end of the binding, the start of a callee's body).
    pub(super) after: usize,
    /// A close that runs on every path (`finally`, `async with`, a helper that does).
    pub(super) guaranteed: Option<String>,
    /// An awaited close on some path only.
    pub(super) unguaranteed: Option<String>,
    /// A close that does not close: never awaited, or only in `__del__`.
    pub(super) not_a_close: Option<String>,
    /// Returned or yielded from the scope.
    pub(super) returned: bool,
    pub(super) yielded: bool,
    /// Stored elsewhere, with the decision for that owner.
    pub(super) stored: Option<Decision>,
    /// Given to a session as its connector: the session call and connector_owner=False.
    pub(super) session_uses: Vec<(usize, bool)>,
    /// Handed to code the audit cannot see.
    pub(super) external: Option<String>,
}

impl<'t> Audit<'_, 't> {
    pub(super) fn declares_global(&self, f: Node<'t>, name: &str) -> bool {
        descendants(f).into_iter().any(|n| {
            n.kind() == "global_statement"
                && enclosing_function(n) == Some(f)
                && children(n).iter().any(|x| self.text(*x) == name)
        })
    }

    /// A local that nothing closes, returns or stores: made per call, or per event loop
    /// when a sync function runs its coroutine with `asyncio.run`.
    pub(super) fn never_closed_local(&self, f: Node<'t>, name: &str, kind: Constructs) -> Decision {
        let fname = qualified_name(self.s, f);
        if let Some((runner, line)) = self.run_per_call(f) {
            return decision(
                Verdict::AsyncioRunPerCall,
                format!("local {name} in {fname}"),
                format!(
                    "{runner} runs it in a new event loop per call (line {line}) and {fname} does \
                     not close the {} inside that loop",
                    kind.name()
                ),
            );
        }
        decision(
            Verdict::PerCall,
            format!("local {name} in {fname}"),
            format!(
                "a new {} per call of {fname}: never closed, not returned, not stored",
                kind.name()
            ),
        )
    }

    /// What happens to the names bound to the object in `scope` after byte `after`.
    pub(super) fn uses(
        &self,
        scope: Node<'t>,
        names: &[String],
        after: usize,
        kind: Constructs,
        depth: u8,
    ) -> Uses {
        let mut u = Uses {
            after,
            ..Uses::default()
        };
        let mut names = names.to_vec();
        let mut i = 0;
        let all = descendants(scope);
        while i < names.len() && i < 8 {
            let name = names[i].clone();
            for id in all.iter().copied().filter(|n| {
                n.kind() == "identifier" && n.start_byte() >= after && self.text(*n) == name
            }) {
                self.use_of(scope, id, kind, depth, &mut u, &mut names);
            }
            i += 1;
        }
        u
    }

    pub(super) fn use_of(
        &self,
        scope: Node<'t>,
        id: Node<'t>,
        kind: Constructs,
        depth: u8,
        u: &mut Uses,
        names: &mut Vec<String>,
    ) {
        let inner = enclosing_scope(id);
        let line = self.s.line(id);
        let name = self.text(id);
        if inner != Some(scope) {
            let Some(f) = inner.filter(|f| within(*f, scope)) else {
                return;
            };
            // A closure: read the use in its own scope. Using the object there is using
            // it; a close there runs only if the closure is called; handing it on from
            // there is not followed.
            let mut nested = Uses {
                after: f.start_byte(),
                ..Uses::default()
            };
            let mut aliases = Vec::new();
            self.use_of(f, id, kind, depth, &mut nested, &mut aliases);
            let what = format!(
                "the nested {} at line {}",
                if f.kind() == "lambda" {
                    "lambda"
                } else {
                    "function"
                },
                self.s.line(f)
            );
            if let Some(c) = nested.guaranteed.or(nested.unguaranteed) {
                u.unguaranteed
                    .get_or_insert(format!("in {what}, which may not run: {c}"));
            }
            if nested.returned || nested.yielded || !aliases.is_empty() {
                u.external.get_or_insert(format!(
                    "{what} hands `{name}` on: needs what its caller does with it"
                ));
            }
            if let Some(d) = nested.stored {
                u.stored.get_or_insert(d);
            }
            if let Some(e) = nested.external {
                u.external.get_or_insert(e);
            }
            if let Some(n) = nested.not_a_close {
                u.not_a_close.get_or_insert(n);
            }
            return;
        }
        let Some(parent) = id.parent() else { return };
        if parent.kind() == "attribute" && parent.child_by_field_name("object") == Some(id) {
            let attr = parent
                .child_by_field_name("attribute")
                .map(|a| self.text(a))
                .unwrap_or("");
            let called = parent.parent().filter(|c| {
                c.kind() == "call" && c.child_by_field_name("function") == Some(parent)
            });
            if let (Some(call), true) = (called, matches!(attr, "close" | "__aexit__")) {
                self.close_event(scope, call, kind, u, &format!("{name}.{attr}()"));
            }
            return;
        }
        let holder = value_holder(id);
        let Some(hp) = holder.parent() else { return };
        match hp.kind() {
            "with_item" | "as_pattern" => {
                let w = statement_of(hp);
                if w.kind() == "with_statement" && is_async_with(w) {
                    u.guaranteed
                        .get_or_insert(format!("closed by `async with {name}` at line {line}"));
                }
            }
            "return_statement" => u.returned = true,
            "expression_list" if statement_of(hp).kind() == "return_statement" => u.returned = true,
            "yield" => u.yielded = true,
            "assignment" if hp.child_by_field_name("right") == Some(holder) => {
                let Some(left) = hp.child_by_field_name("left") else {
                    return;
                };
                match left.kind() {
                    "identifier" => {
                        let alias = self.text(left).to_owned();
                        if !names.contains(&alias) {
                            names.push(alias);
                        }
                    }
                    _ => {
                        if u.stored.is_none() {
                            u.stored = Some(self.assigned(hp, left, kind, depth + 1));
                        }
                    }
                }
            }
            "keyword_argument" | "argument_list" => {
                let keyword = (hp.kind() == "keyword_argument")
                    .then(|| hp.child_by_field_name("name").map(|n| self.text(n)))
                    .flatten();
                let call = if hp.kind() == "keyword_argument" {
                    hp.parent().and_then(|l| l.parent())
                } else {
                    hp.parent()
                };
                let Some(call) = call.filter(|c| c.kind() == "call") else {
                    return;
                };
                self.argument_use(call, keyword, holder, kind, depth, u);
            }
            _ => {}
        }
    }

    pub(super) fn argument_use(
        &self,
        call: Node<'t>,
        keyword: Option<&str>,
        arg: Node<'t>,
        kind: Constructs,
        depth: u8,
        u: &mut Uses,
    ) {
        let callee = call.child_by_field_name("function");
        let callee_text = callee.map(|f| self.text(f)).unwrap_or("");
        let line = self.s.line(call);
        if kind.is_connector() && keyword == Some("connector") && self.is_session(call) {
            u.session_uses
                .push((call.start_byte(), connector_owner_false(self, call)));
            return;
        }
        if callee_text.ends_with("enter_async_context") {
            u.guaranteed.get_or_insert(format!(
                "entered into an AsyncExitStack at line {line}, which closes it"
            ));
            return;
        }
        let last = callee_text.rsplit('.').next().unwrap_or("");
        if LOOKS_ONLY.contains(&callee_text)
            || matches!(
                last,
                "debug" | "info" | "warning" | "error" | "exception" | "critical" | "log"
            )
        {
            return;
        }
        match self.follow_into_callee(call, keyword, arg, kind, depth + 1) {
            // Only used by the callee: still ours.
            Some(d) if d.verdict == Verdict::PerCall => {}
            Some(d) => match d.verdict {
                Verdict::Ok if self.in_finally(call) => {
                    u.guaranteed
                        .get_or_insert(format!("line {line}: {}", d.why));
                }
                Verdict::Ok | Verdict::CloseNotGuaranteed => {
                    u.unguaranteed
                        .get_or_insert(format!("line {line}: {}", d.why));
                }
                _ => {
                    u.stored.get_or_insert(d);
                }
            },
            None => {
                u.external.get_or_insert(format!(
                    "handed to `{callee_text}(…)` at line {line}, defined outside this file: needs \
                     whether it closes the {} or who does",
                    kind.name()
                ));
            }
        }
    }

    /// The decision from a local's uses, `None` when it was only used.
    pub(super) fn combine(
        &self,
        u: Uses,
        f: Node<'t>,
        name: &str,
        kind: Constructs,
        depth: u8,
    ) -> Option<Decision> {
        let fname = qualified_name(self.s, f);
        let owner = format!("local {name} in {fname}");
        if let Some(g) = u.guaranteed {
            return Some(decision(Verdict::Ok, owner, g));
        }
        if u.returned {
            return Some(self.returned_from(f, kind, depth + 1));
        }
        if u.yielded {
            return Some(decision(
                Verdict::Transferred,
                format!("yielded by {fname}"),
                format!("`{name}` is yielded to whoever drives the generator"),
            ));
        }
        if let Some(d) = u.stored {
            return Some(d);
        }
        if !u.session_uses.is_empty() {
            let shared = u.session_uses.iter().any(|(_, f)| *f);
            if shared {
                return Some(match u.unguaranteed {
                    Some(w) => decision(Verdict::CloseNotGuaranteed, owner, w),
                    None => decision(
                        Verdict::SharedConnectorNeverClosed,
                        owner,
                        format!(
                            "given to sessions with connector_owner=False, so they leave it \
                             open, and {fname} never closes `{name}`{}",
                            u.not_a_close.map(|n| format!(" ({n})")).unwrap_or_default()
                        ),
                    ),
                });
            }
            let start = u.session_uses[0].0;
            if let Some(call) = self.s.calls.iter().find(|c| c.start_byte() == start) {
                let d = self.value(*call, Constructs::ClientSession, depth + 1);
                let line = self.s.line(*call);
                return Some(decision(
                    d.verdict,
                    format!("{owner}, connector of the session at line {line}"),
                    format!(
                        "closed with the session at line {line} (connector_owner defaults to \
                         True); the session: {}",
                        d.why
                    ),
                ));
            }
        }
        if let Some(w) = u.unguaranteed {
            return Some(decision(Verdict::CloseNotGuaranteed, owner, w));
        }
        if let Some(e) = u.external {
            return Some(decision(Verdict::Unknown, owner, e));
        }
        if let Some(n) = u.not_a_close {
            let d = self.never_closed_local(f, name, kind);
            return Some(decision(d.verdict, d.owner, format!("{}; {n}", d.why)));
        }
        None
    }
}
