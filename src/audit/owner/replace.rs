//! Replacement: an assignment that may overwrite a live object without closing it, unless
//! a check on the path says the place is empty or closed.

use tree_sitter::Node;

use super::{Audit, SETUP_METHODS};
use crate::audit::Constructs;
use crate::audit::syntax::{
    children, descendants, enclosing_function, name_of, qualified_name, statement_of,
};

/// Whitespace squeezed to single spaces, around parentheses and commas removed.
fn normalize(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    joined
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
        .replace(", ", ",")
}

impl<'t> Audit<'_, 't> {
    /// When an assignment may overwrite a live object without closing it: outside set-up
    /// methods, with no check that the place is empty or closed and no close before it.
    pub(super) fn replaced(
        &self,
        assign: Node<'t>,
        targets: &[String],
        kind: Constructs,
    ) -> Option<String> {
        let f = enclosing_function(assign)?;
        let fname = name_of(self.s, f);
        if SETUP_METHODS.contains(&fname) {
            return None;
        }
        let target = self.text(
            assign
                .child_by_field_name("left")
                .or_else(|| assign.child_by_field_name("name"))?,
        );
        if target.contains('[') {
            return None;
        }
        let matches_target = |t: &str| t == target || targets.iter().any(|x| x == t);
        // A close before it in the same function.
        for n in descendants(f) {
            if n.end_byte() > assign.start_byte() || n.kind() != "call" {
                continue;
            }
            if let Some(c) = n
                .child_by_field_name("function")
                .filter(|c| c.kind() == "attribute")
                && c.child_by_field_name("attribute")
                    .is_some_and(|a| self.text(a) == "close")
                && c.child_by_field_name("object")
                    .is_some_and(|o| matches_target(self.text(o)))
            {
                return None;
            }
        }
        if self.guarded(assign, f, target) {
            return None;
        }
        // A helper (`_create_session()`) whose every caller in the file checks first.
        let sites = self.call_sites(f);
        if !sites.is_empty()
            && sites
                .iter()
                .all(|c| enclosing_function(*c).is_some_and(|cf| self.guarded(*c, cf, target)))
        {
            return None;
        }
        Some(format!(
            "{} assigns `{target}` at line {} without closing the {} already there (no check \
             that it is None or closed, no close before): the old one is left to the garbage \
             collector",
            qualified_name(self.s, f),
            self.s.line(assign),
            kind.name()
        ))
    }

    /// Whether the assignment only runs when the place holds nothing live: inside `if`
    /// whose condition says so, in the `else` of one saying it is live, or after an `if`
    /// that returns when it is live.
    pub(super) fn guarded(&self, assign: Node<'t>, f: Node<'t>, target: &str) -> bool {
        let mut x = statement_of(assign);
        while x != f {
            let Some(p) = x.parent() else { return false };
            match p.kind() {
                "if_statement" | "elif_clause"
                    if p.child_by_field_name("consequence") == Some(x)
                        && p.child_by_field_name("condition")
                            .is_some_and(|c| self.absent(c, target)) =>
                {
                    return true;
                }
                "else_clause" | "elif_clause" => {
                    // Every condition before this branch is false here.
                    if let Some(i) = p.parent().filter(|i| i.kind() == "if_statement") {
                        let mut conds = vec![i.child_by_field_name("condition")];
                        for b in children(i) {
                            if b == p {
                                break;
                            }
                            if b.kind() == "elif_clause" {
                                conds.push(b.child_by_field_name("condition"));
                            }
                        }
                        if conds.into_iter().flatten().any(|c| self.present(c, target)) {
                            return true;
                        }
                    }
                }
                "block" => {
                    // An earlier `if <live>: return …` in the same block.
                    for sib in children(p) {
                        if sib.start_byte() >= x.start_byte() {
                            break;
                        }
                        if sib.kind() == "if_statement"
                            && sib.child_by_field_name("alternative").is_none()
                            && sib
                                .child_by_field_name("condition")
                                .is_some_and(|c| self.present(c, target))
                            && sib.child_by_field_name("consequence").is_some_and(|b| {
                                children(b).last().is_some_and(|l| {
                                    matches!(l.kind(), "return_statement" | "raise_statement")
                                })
                            })
                        {
                            return true;
                        }
                    }
                }
                _ => {}
            }
            x = p;
        }
        false
    }

    /// `cond` true ⇒ the place holds nothing live (None, falsy, closed, not a session).
    pub(super) fn absent(&self, c: Node<'t>, t: &str) -> bool {
        self.tells(c, t, true)
    }

    /// `cond` false ⇒ the place holds nothing live.
    pub(super) fn present(&self, c: Node<'t>, t: &str) -> bool {
        self.tells(c, t, false)
    }

    /// [`Self::absent`] (`absent`) or [`Self::present`]: the two are each other's negation,
    /// so `not`, `and` and `or` swap between them (De Morgan).
    fn tells(&self, c: Node<'t>, t: &str, absent: bool) -> bool {
        let text = normalize(self.text(c));
        match c.kind() {
            "parenthesized_expression" => {
                c.named_child(0).is_some_and(|e| self.tells(e, t, absent))
            }
            "not_operator" => c
                .child_by_field_name("argument")
                .is_some_and(|a| self.tells(a, t, !absent)),
            "boolean_operator" => {
                let (l, r) = (
                    c.child_by_field_name("left"),
                    c.child_by_field_name("right"),
                );
                let op = c.child_by_field_name("operator").map(|o| self.text(o));
                let (l, r) = (
                    l.is_some_and(|l| self.tells(l, t, absent)),
                    r.is_some_and(|r| self.tells(r, t, absent)),
                );
                // Absent: both sides of an `or`, either of an `and`; present the other way.
                if (op == Some("or")) == absent {
                    l && r
                } else {
                    l || r
                }
            }
            "comparison_operator" if absent => {
                text == format!("{t} is None") || text == format!("{t} == None")
            }
            "comparison_operator" => {
                text == format!("{t} is not None") || text == format!("{t} != None")
            }
            "attribute" if absent => text == format!("{t}.closed"),
            "identifier" | "attribute" if !absent => text == t,
            "call" if !absent => {
                text.starts_with("isinstance(") && text[11..].starts_with(&format!("{t},"))
            }
            _ => false,
        }
    }
}
