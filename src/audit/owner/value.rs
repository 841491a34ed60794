//! Where a constructed value goes: into a `with`, a call's argument (followed into the
//! file's own callee), a return (then the file's callers), an assignment, or nowhere.

use tree_sitter::Node;

use super::{Audit, Decision, MAX_DEPTH, connector_owner_false, decision};
use crate::audit::syntax::{
    children, enclosing_function, is_async_with, parameters, qualified_name, statement_of,
    value_holder, within,
};
use crate::audit::{Constructs, Need, Verdict};

impl<'t> Audit<'_, 't> {
    /// The decision for a value made at `call`: where does it go?
    pub(super) fn value(&self, call: Node<'t>, kind: Constructs, depth: u8) -> Decision {
        let scope = self.scope_label(call);
        if depth > MAX_DEPTH {
            return decision(
                Verdict::Unknown,
                scope,
                "followed too many calls deep: needs a shorter chain to decide",
            );
        }
        let region = enclosing_function(call).unwrap_or(statement_of(call));
        if region.has_error() {
            return decision(
                Verdict::Unknown,
                scope,
                "the code around it has a syntax error: needs a file that parses",
            );
        }
        let holder = value_holder(call);
        let Some(parent) = holder.parent() else {
            return decision(Verdict::Unknown, scope, "needs a parent expression");
        };
        match parent.kind() {
            "with_item" | "as_pattern" => self.with_item(parent, kind, &scope),
            "attribute" if parent.child_by_field_name("object") == Some(holder) => {
                let attr = parent
                    .child_by_field_name("attribute")
                    .map(|a| self.text(a))
                    .unwrap_or("");
                decision(
                    Verdict::PerCall,
                    format!("expression in {scope}"),
                    format!(
                        "chained `{}(…).{attr}(…)`: the object is never bound to a name, so \
                         nothing can close it",
                        kind.name()
                    ),
                )
            }
            "keyword_argument" => {
                let keyword = parent.child_by_field_name("name").map(|n| self.text(n));
                match parent.parent().and_then(|l| l.parent()) {
                    Some(c) if c.kind() == "call" => self.argument(c, keyword, holder, kind, depth),
                    _ => decision(Verdict::Unknown, scope, "needs the call it is passed to"),
                }
            }
            "argument_list" => match parent.parent() {
                Some(c) if c.kind() == "call" => self.argument(c, None, holder, kind, depth),
                _ => decision(Verdict::Unknown, scope, "needs the call it is passed to"),
            },
            "lambda" => {
                let mut d = decision(
                    Verdict::Unknown,
                    format!("factory lambda in {scope}"),
                    format!(
                        "made by a factory `lambda: {}(…)`{}: who closes what it makes is decided \
                         where it is called; needs that code",
                        kind.name(),
                        self.lambda_destination(parent)
                    ),
                );
                d.need = self.factory_need(parent);
                d
            }
            "return_statement" | "expression_list"
                if statement_of(holder).kind() == "return_statement" =>
            {
                self.returned(call, kind, depth)
            }
            "yield" => decision(
                Verdict::Transferred,
                format!("yielded by {scope}"),
                "yielded to whoever drives the generator (a fixture's framework closes nothing: \
                 close it after the yield)",
            ),
            "assignment" if parent.child_by_field_name("right") == Some(holder) => {
                match parent.child_by_field_name("left") {
                    Some(left) => self.assigned(parent, left, kind, depth),
                    None => decision(Verdict::Unknown, scope, "needs the assignment's target"),
                }
            }
            "named_expression" => match parent.child_by_field_name("name") {
                Some(left) => self.assigned(parent, left, kind, depth),
                None => decision(Verdict::Unknown, scope, "needs the assignment's target"),
            },
            "expression_statement" => decision(
                Verdict::PerCall,
                format!("expression in {scope}"),
                "made and dropped at once: nothing can close it",
            ),
            other => decision(
                Verdict::Unknown,
                format!("{} in {scope}", other.replace('_', " ")),
                format!(
                    "stored in a {}: needs where that goes",
                    other.replace('_', " ")
                ),
            ),
        }
    }

    /// `with X(…) [as y]:`.
    pub(super) fn with_item(&self, item: Node<'t>, kind: Constructs, scope: &str) -> Decision {
        let mut w = item;
        while w.kind() != "with_statement" {
            match w.parent() {
                Some(p) => w = p,
                None => return decision(Verdict::Unknown, scope, "needs its with statement"),
            }
        }
        if is_async_with(w) {
            decision(
                Verdict::Ok,
                format!("async with in {scope}"),
                format!(
                    "closed by `async with` at line {} when the block exits",
                    self.s.line(w)
                ),
            )
        } else {
            decision(
                Verdict::Unknown,
                format!("with in {scope}"),
                format!(
                    "a plain `with` on aiohttp's {} (it takes `async with`): needs the code fixed \
                     before its ownership can be read",
                    kind.name()
                ),
            )
        }
    }

    /// The line of the session whose `connector=` this connector is made in, if it is.
    pub(super) fn session_of_inline_connector(
        &self,
        call: Node<'t>,
        kind: Constructs,
    ) -> Option<u32> {
        if !kind.is_connector() {
            return None;
        }
        let p = value_holder(call).parent()?;
        if p.kind() != "keyword_argument"
            || p.child_by_field_name("name").map(|n| self.text(n)) != Some("connector")
        {
            return None;
        }
        let session = p.parent()?.parent()?;
        if !self.is_session(session) {
            return None;
        }
        let f = session.child_by_field_name("function")?;
        let name = match f.kind() {
            "attribute" => f.child_by_field_name("attribute")?,
            _ => f,
        };
        Some(self.s.line(name))
    }

    /// The object is an argument of `call`.
    pub(super) fn argument(
        &self,
        call: Node<'t>,
        keyword: Option<&str>,
        arg: Node<'t>,
        kind: Constructs,
        depth: u8,
    ) -> Decision {
        let scope = self.scope_label(call);
        let callee = call.child_by_field_name("function");
        let callee_text = callee.map(|f| self.text(f)).unwrap_or("");
        if kind.is_connector() && keyword == Some("connector") && self.is_session(call) {
            let (line, _) = self.s.position(call);
            if connector_owner_false(self, call) {
                return decision(
                    Verdict::SharedConnectorNeverClosed,
                    format!("connector of the session at line {line}"),
                    "made inline with connector_owner=False: the session will not close it, and \
                     no name is left to close it with",
                );
            }
            let d = self.value(call, Constructs::ClientSession, depth + 1);
            let mut c = decision(
                d.verdict,
                format!("connector of the session at line {line} ({})", d.owner),
                format!(
                    "closed with its session (connector_owner defaults to True); the session: {}",
                    d.why
                ),
            );
            c.need = d.need.map(|n| Need {
                connector_of: Some(line),
                ..n
            });
            return c;
        }
        if callee_text.ends_with("enter_async_context") {
            return decision(
                Verdict::Ok,
                format!("exit stack in {scope}"),
                "entered into an AsyncExitStack, which closes it when the stack exits",
            );
        }
        if let Some(d) = self.follow_into_callee(call, keyword, arg, kind, depth) {
            return d;
        }
        decision(
            Verdict::Unknown,
            format!("argument of {callee_text}(…) in {scope}"),
            format!(
                "handed to `{callee_text}(…)`, defined outside this file: needs whether it closes \
                 the {} or who does",
                kind.name()
            ),
        )
    }

    /// Follows an argument into a function or class of this file: what does it do with
    /// its parameter? `None` when the callee is not in the file.
    pub(super) fn follow_into_callee(
        &self,
        call: Node<'t>,
        keyword: Option<&str>,
        arg: Node<'t>,
        kind: Constructs,
        depth: u8,
    ) -> Option<Decision> {
        let scope = self.scope_label(call);
        let callee = call.child_by_field_name("function")?;
        let (func, skip_self) = self.local_callee(call, callee)?;
        let params = parameters(self.s, func);
        let param = match keyword {
            Some(k) => params.iter().copied().find(|p| *p == k)?,
            None => {
                let args = call.child_by_field_name("arguments")?;
                let index = children(args)
                    .iter()
                    .filter(|a| a.kind() != "keyword_argument" && a.kind() != "comment")
                    .position(|a| within(arg, *a))?;
                *params.get(index + usize::from(skip_self))?
            }
        };
        let body = func.child_by_field_name("body")?;
        let uses = self.uses(
            func,
            &[param.to_owned()],
            body.start_byte(),
            kind,
            depth + 1,
        );
        let fname = qualified_name(self.s, func);
        Some(match self.combine(uses, func, param, kind, depth + 1) {
            Some(d) => decision(
                d.verdict,
                format!("parameter {param} of {fname} (from {scope})"),
                format!("passed to {fname}: {}", d.why),
            ),
            None => decision(
                Verdict::PerCall,
                format!("argument of {fname} in {scope}"),
                format!(
                    "made for the call to {fname}, which only uses its `{param}`: never closed, \
                     not stored"
                ),
            ),
        })
    }

    /// `return X(…)`: the callers in this file decide; none means it is theirs elsewhere.
    pub(super) fn returned(&self, call: Node<'t>, kind: Constructs, depth: u8) -> Decision {
        let Some(f) = enclosing_function(call) else {
            return decision(Verdict::Unknown, "<module>", "a return outside a function");
        };
        self.returned_from(f, kind, depth)
    }

    pub(super) fn returned_from(&self, f: Node<'t>, kind: Constructs, depth: u8) -> Decision {
        let fname = qualified_name(self.s, f);
        let sites = self.call_sites(f);
        if sites.is_empty() {
            return decision(
                Verdict::Transferred,
                format!("returned by {fname}"),
                format!(
                    "returned to the caller of {fname} (none in this file), who owns it from then"
                ),
            );
        }
        let mut worst: Option<(Decision, u32)> = None;
        for site in sites {
            let d = self.value(site, kind, depth + 1);
            let line = self.s.line(site);
            if worst
                .as_ref()
                .is_none_or(|(w, _)| d.verdict.rank() > w.verdict.rank())
            {
                worst = Some((d, line));
            }
        }
        let (d, line) = worst.expect("at least one site");
        decision(
            d.verdict,
            format!("returned by {fname}, then {}", d.owner),
            format!(
                "{fname} returns a new one; its caller at line {line}: {}",
                d.why
            ),
        )
    }
}
