//! Finding things within the file: the function a call reaches, a class's methods through
//! its bases, a class's family, the calls of a function, whether a call makes a session.

use tree_sitter::Node;

use super::Audit;
use crate::audit::Constructs;
use crate::audit::names::Callee;
use crate::audit::syntax::{children, enclosing_function, first_parameter, name_of};

impl<'t> Audit<'_, 't> {
    /// The function a call reaches in this file, and whether its first parameter is the
    /// instance (a method, or a class's `__init__`).
    pub(super) fn local_callee(
        &self,
        call: Node<'t>,
        callee: Node<'t>,
    ) -> Option<(Node<'t>, bool)> {
        match callee.kind() {
            "identifier" => {
                let name = self.text(callee);
                if let Some(c) = self.top_level_class(name) {
                    return Some((self.method(c, "__init__")?, true));
                }
                self.s
                    .functions
                    .iter()
                    .copied()
                    .find(|f| {
                        name_of(self.s, *f) == name
                            && self.s.is_top_level(*f)
                            && self.s.method_of(*f).is_none()
                    })
                    .map(|f| (f, false))
            }
            "attribute" => {
                let object = callee.child_by_field_name("object")?;
                let attr = self.text(callee.child_by_field_name("attribute")?);
                let own = enclosing_function(call)?;
                let class = self.s.method_of(own)?;
                let me = first_parameter(self.s, own)?;
                if self.text(object) != me && self.text(object) != name_of(self.s, class) {
                    return None;
                }
                Some((self.method(class, attr)?, true))
            }
            _ => None,
        }
    }

    pub(super) fn top_level_class(&self, name: &str) -> Option<Node<'t>> {
        self.s
            .classes
            .iter()
            .copied()
            .find(|c| name_of(self.s, *c) == name && self.s.is_top_level(*c))
    }

    /// A method of a class of this file, looked up through its bases in the file too.
    pub(super) fn method(&self, class: Node<'t>, name: &str) -> Option<Node<'t>> {
        for c in self.lineage(class) {
            if let Some(m) = self
                .s
                .functions
                .iter()
                .copied()
                .find(|f| name_of(self.s, *f) == name && self.s.method_of(*f) == Some(c))
            {
                return Some(m);
            }
        }
        None
    }

    /// A class and its bases that are defined in this file, nearest first.
    pub(super) fn lineage(&self, class: Node<'t>) -> Vec<Node<'t>> {
        let mut out = vec![class];
        let mut i = 0;
        while i < out.len() && out.len() < 16 {
            if let Some(sup) = out[i].child_by_field_name("superclasses") {
                for b in children(sup) {
                    if let Some(c) = self.top_level_class(self.text(b))
                        && !out.contains(&c)
                    {
                        out.push(c);
                    }
                }
            }
            i += 1;
        }
        out
    }

    /// Classes of the file related to this one: its bases and the classes deriving from it.
    pub(super) fn family(&self, class: Node<'t>) -> Vec<Node<'t>> {
        let mut out = self.lineage(class);
        for c in &self.s.classes {
            if !out.contains(c) && self.lineage(*c).contains(&class) {
                out.push(*c);
            }
        }
        out
    }

    pub(super) fn is_session(&self, call: Node<'t>) -> bool {
        call.child_by_field_name("function").is_some_and(|f| {
            matches!(
                self.names.resolve(self.s, f),
                Callee::Aiohttp {
                    kind: Constructs::ClientSession,
                    ..
                }
            )
        })
    }

    /// Calls of a function in this file: `f(…)`, or `self.f(…)` / `cls.f(…)` / `C.f(…)` for
    /// a method.
    pub(super) fn call_sites(&self, f: Node<'t>) -> Vec<Node<'t>> {
        let name = name_of(self.s, f);
        let class = self.s.method_of(f);
        self.s
            .calls
            .iter()
            .copied()
            .filter(|c| {
                let Some(callee) = c.child_by_field_name("function") else {
                    return false;
                };
                match (callee.kind(), class) {
                    ("identifier", None) => self.text(callee) == name,
                    ("attribute", Some(cls)) => {
                        let attr = callee.child_by_field_name("attribute");
                        attr.is_some_and(|a| self.text(a) == name)
                            && callee.child_by_field_name("object").is_some_and(|o| {
                                let o = self.text(o);
                                o == "self" || o == "cls" || o == name_of(self.s, cls)
                            })
                    }
                    _ => false,
                }
            })
            .collect()
    }
}
