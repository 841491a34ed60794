//! Cross-file factories: a `lambda: ClientSession(…)` handed to a class of another module
//! says what that module must decide ([`Need`]); this file's classes that keep and call a
//! factory say what happens to what it makes ([`Factory`]).

use tree_sitter::Node;

use super::{Audit, Decision};
use crate::audit::syntax::{children, descendants, name_of, parameters, value_holder, within};
use crate::audit::{Constructs, Factory, Need};

impl<'t> Audit<'_, 't> {
    /// A factory lambda handed to a class imported from another module: what that module
    /// would have to say (see [`crate::audit::resolve_across`]).
    pub(super) fn factory_need(&self, lambda: Node<'t>) -> Option<Need> {
        let holder = value_holder(lambda);
        let p = holder.parent()?;
        let (call, keyword, position) = match p.kind() {
            "keyword_argument" => (
                p.parent()?.parent()?,
                p.child_by_field_name("name")
                    .map(|n| self.text(n).to_owned()),
                None,
            ),
            "argument_list" => (
                p.parent()?,
                None,
                children(p)
                    .iter()
                    .filter(|a| a.kind() != "keyword_argument" && a.kind() != "comment")
                    .position(|a| *a == holder),
            ),
            _ => return None,
        };
        let callee = call.child_by_field_name("function")?;
        let path = self.names.foreign_path(self.s, callee)?;
        let (module, class) = path.rsplit_once('.')?;
        Some(Need {
            module: module.to_owned(),
            class: class.to_owned(),
            keyword,
            position,
            connector_of: None,
        })
    }

    /// Classes of this file that keep a factory given to `__init__` and call it into an
    /// attribute: what happens to the sessions it makes.
    pub(super) fn factories(&self) -> Vec<Factory> {
        let mut out = Vec::new();
        for class in &self.s.classes {
            let Some(init) = self.method(*class, "__init__") else {
                continue;
            };
            let params = parameters(self.s, init);
            for (index, param) in params.iter().enumerate().skip(1) {
                // `self.X = param` in __init__.
                let kept: Vec<String> = descendants(init)
                    .into_iter()
                    .filter(|n| n.kind() == "assignment")
                    .filter(|a| {
                        a.child_by_field_name("right")
                            .is_some_and(|r| self.text(r) == *param)
                    })
                    .filter_map(|a| a.child_by_field_name("left"))
                    .map(|l| self.text(l).to_owned())
                    .filter(|l| l.starts_with("self."))
                    .collect();
                // Only a factory that is called somewhere (`self._factory()`) matters.
                if !kept
                    .iter()
                    .any(|k| memchr::memmem::find(self.s.src, format!("{k}(").as_bytes()).is_some())
                {
                    continue;
                }
                let family = self.family(*class);
                let mut worst: Option<(Decision, u32)> = None;
                for f in self
                    .s
                    .functions
                    .iter()
                    .copied()
                    .filter(|f| family.iter().any(|c| within(*f, *c)))
                {
                    for a in descendants(f)
                        .into_iter()
                        .filter(|n| n.kind() == "assignment")
                    {
                        let (Some(left), Some(right)) = (
                            a.child_by_field_name("left"),
                            a.child_by_field_name("right"),
                        ) else {
                            continue;
                        };
                        let called = right.kind() == "call"
                            && right
                                .child_by_field_name("function")
                                .is_some_and(|c| kept.iter().any(|k| k == self.text(c)));
                        if !called || left.kind() != "attribute" {
                            continue;
                        }
                        let d = self.assigned(a, left, Constructs::ClientSession, 1);
                        if worst
                            .as_ref()
                            .is_none_or(|(w, _)| d.verdict.rank() > w.verdict.rank())
                        {
                            worst = Some((d, self.s.line(a)));
                        }
                    }
                }
                if let Some((d, line)) = worst {
                    out.push(Factory {
                        class: name_of(self.s, *class).to_owned(),
                        param: (*param).to_owned(),
                        index: index - 1,
                        verdict: d.verdict,
                        owner: d.owner,
                        why: d.why,
                        line,
                    });
                }
            }
        }
        out
    }

    /// Where a factory lambda is handed, said in its reason.
    pub(super) fn lambda_destination(&self, lambda: Node<'t>) -> String {
        let holder = value_holder(lambda);
        let Some(p) = holder.parent() else {
            return String::new();
        };
        let call = match p.kind() {
            "keyword_argument" => p.parent().and_then(|l| l.parent()),
            "argument_list" => p.parent(),
            _ => None,
        };
        match call.and_then(|c| c.child_by_field_name("function")) {
            Some(f) => format!(", handed to `{}(…)`", self.text(f)),
            None => String::new(),
        }
    }
}
