//! Ownership of a stored object: an attribute of an instance or a class, a module global,
//! a cache; which texts name it, and whether its owner closes it.

use tree_sitter::Node;

use super::{Audit, Decision, connector_owner_false, decision};
use crate::audit::syntax::{
    Source, children, class_of_body_statement, descendants, enclosing_function, first_parameter,
    name_of, within,
};
use crate::audit::{Constructs, Verdict};

/// Where an object is stored.
pub(super) enum Owned<'t> {
    /// `self.attr` of instances of a class.
    Attribute(Node<'t>, String),
    /// `Class.attr` / `cls.attr`.
    ClassAttribute(Node<'t>, String),
    /// A module global.
    Global(String),
    /// `container[key]`.
    Cache(String),
}

impl Owned<'_> {
    fn scope_words(&self, s: &Source<'_>) -> String {
        match self {
            Owned::Attribute(c, _) => format!("{} or its classes in this file", name_of(s, *c)),
            Owned::ClassAttribute(c, _) => format!("this file (nor in {})", name_of(s, *c)),
            Owned::Global(_) | Owned::Cache(_) => "this file".into(),
        }
    }
}

/// The texts that name a stored object, and where.
pub(super) struct Targets<'t> {
    /// Texts naming it inside `functions` only (`self.x`).
    pub(super) inside: Vec<String>,
    /// The functions of its class's family.
    pub(super) functions: Vec<Node<'t>>,
    /// Texts naming it anywhere (`Class.x`, a global, a cache).
    pub(super) anywhere: Vec<String>,
    /// It is a container of objects.
    pub(super) cache: bool,
}

impl<'t> Audit<'_, 't> {
    /// `target = X(…)`.
    pub(super) fn assigned(
        &self,
        assign: Node<'t>,
        left: Node<'t>,
        kind: Constructs,
        depth: u8,
    ) -> Decision {
        let scope_label = self.scope_label(assign);
        match left.kind() {
            "identifier" => {
                let name = self.text(left);
                if let Some(class) = class_of_body_statement(assign) {
                    let cname = name_of(self.s, class);
                    return self.owned(
                        assign,
                        Owned::ClassAttribute(class, name.to_owned()),
                        format!("class attribute {cname}.{name}"),
                        kind,
                    );
                }
                match enclosing_function(assign) {
                    Some(f) if !self.declares_global(f, name) => {
                        let uses = self.uses(f, &[name.to_owned()], assign.end_byte(), kind, depth);
                        match self.combine(uses, f, name, kind, depth) {
                            Some(d) => d,
                            None => self.never_closed_local(f, name, kind),
                        }
                    }
                    _ => self.owned(
                        assign,
                        Owned::Global(name.to_owned()),
                        format!("module global {name}"),
                        kind,
                    ),
                }
            }
            "attribute" => {
                let (Some(object), Some(attr)) = (
                    left.child_by_field_name("object"),
                    left.child_by_field_name("attribute"),
                ) else {
                    return decision(Verdict::Unknown, scope_label, "needs the attribute");
                };
                let attr = self.text(attr).to_owned();
                let object_text = self.text(object);
                let method = enclosing_function(assign);
                let class = method.and_then(|m| self.s.method_of(m));
                let me = method.and_then(|m| first_parameter(self.s, m));
                match class {
                    Some(c) if me == Some(object_text) && object_text != "cls" => self.owned(
                        assign,
                        Owned::Attribute(c, attr.clone()),
                        format!("attribute {object_text}.{attr} of {}", name_of(self.s, c)),
                        kind,
                    ),
                    Some(c) if me == Some(object_text) || object_text == name_of(self.s, c) => self
                        .owned(
                            assign,
                            Owned::ClassAttribute(c, attr.clone()),
                            format!("class attribute {}.{attr}", name_of(self.s, c)),
                            kind,
                        ),
                    _ => match self.top_level_class(object_text) {
                        Some(c) => self.owned(
                            assign,
                            Owned::ClassAttribute(c, attr.clone()),
                            format!("class attribute {object_text}.{attr}"),
                            kind,
                        ),
                        None => decision(
                            Verdict::Unknown,
                            format!("attribute {object_text}.{attr} in {scope_label}"),
                            format!(
                                "stored on another object (`{object_text}`): needs that object's \
                                 owner and whether it closes `.{attr}`"
                            ),
                        ),
                    },
                }
            }
            "subscript" => {
                let container = left
                    .child_by_field_name("value")
                    .map(|v| self.text(v))
                    .unwrap_or("");
                self.owned(
                    assign,
                    Owned::Cache(container.to_owned()),
                    format!("cache {container} in {scope_label}"),
                    kind,
                )
            }
            other => decision(
                Verdict::Unknown,
                format!("{} in {scope_label}", other.replace('_', " ")),
                "assigned to a pattern (tuple, list): needs a single name to follow",
            ),
        }
    }

    /// An object stored on a class, an instance, a module or a cache: does its owner close
    /// it, and is an old one replaced without a close?
    pub(super) fn owned(
        &self,
        assign: Node<'t>,
        place: Owned<'t>,
        owner: String,
        kind: Constructs,
    ) -> Decision {
        let t = self.targets(&place);
        let targets: Vec<String> = t.inside.iter().chain(&t.anywhere).cloned().collect();
        // A connector: shared with connector_owner=False, or given to a session that owns it.
        if kind.is_connector() {
            let sessions: Vec<Node<'t>> = self
                .s
                .calls
                .iter()
                .copied()
                .filter(|c| {
                    self.is_session(*c)
                        && c.child_by_field_name("arguments").is_some_and(|args| {
                            children(args).iter().any(|a| {
                                a.kind() == "keyword_argument"
                                    && a.child_by_field_name("name")
                                        .is_some_and(|n| self.text(n) == "connector")
                                    && a.child_by_field_name("value")
                                        .is_some_and(|v| self.names_place(v, &targets))
                            })
                        })
                })
                .collect();
            let closes = self.closes_of(&t, kind);
            if sessions.iter().any(|c| connector_owner_false(self, *c)) {
                return match closes.closed {
                    Some(c) => decision(Verdict::Ok, owner, c),
                    None => decision(
                        Verdict::SharedConnectorNeverClosed,
                        owner,
                        format!(
                            "given to sessions with connector_owner=False (line {}), so they leave \
                             it open, and nothing in this file closes it{}",
                            sessions
                                .iter()
                                .find(|c| connector_owner_false(self, **c))
                                .map(|c| self.s.line(*c))
                                .unwrap_or(0),
                            closes.note.map(|n| format!(" ({n})")).unwrap_or_default()
                        ),
                    ),
                };
            }
        }
        let closes = self.closes_of(&t, kind);
        let Some(closed) = closes.closed else {
            return decision(
                Verdict::OwnedNeverClosed,
                owner.clone(),
                format!(
                    "stored as {owner}, and nothing in {} closes it{}",
                    place.scope_words(self.s),
                    closes.note.map(|n| format!(" ({n})")).unwrap_or_default()
                ),
            );
        };
        if let Some(why) = self.replaced(assign, &targets, kind) {
            return decision(Verdict::OwnedNeverClosed, owner, why);
        }
        decision(Verdict::Ok, owner, closed)
    }

    /// Whether an expression is the place: its text, or a call of a function of this file
    /// that returns it (`connector=Upstreams.get_connector()`).
    pub(super) fn names_place(&self, e: Node<'t>, targets: &[String]) -> bool {
        let text = self.text(e);
        if targets
            .iter()
            .any(|t| t == text || text.starts_with(&format!("{t}[")))
        {
            return true;
        }
        let Some(callee) = (e.kind() == "call")
            .then(|| e.child_by_field_name("function"))
            .flatten()
        else {
            return false;
        };
        let name = match callee.kind() {
            "attribute" => callee
                .child_by_field_name("attribute")
                .map(|a| self.text(a))
                .unwrap_or(""),
            _ => self.text(callee),
        };
        self.s.functions.iter().any(|f| {
            name_of(self.s, *f) == name
                && descendants(*f).into_iter().any(|r| {
                    r.kind() == "return_statement"
                        && enclosing_function(r) == Some(*f)
                        && r.named_child(0)
                            .is_some_and(|v| targets.iter().any(|t| t == self.text(v)))
                })
        })
    }

    /// The texts naming the place: those that mean it only inside its class's family
    /// (`self.x`, `cls.x`) with the functions they count in, those that mean it anywhere
    /// (`C.x`, a global); and whether it is a cache (closed through what it holds).
    pub(super) fn targets(&self, place: &Owned<'t>) -> Targets<'t> {
        match place {
            Owned::Attribute(class, attr) | Owned::ClassAttribute(class, attr) => {
                let family = self.family(*class);
                let anywhere = family
                    .iter()
                    .map(|c| format!("{}.{attr}", name_of(self.s, *c)))
                    .collect();
                let functions = self
                    .s
                    .functions
                    .iter()
                    .copied()
                    .filter(|f| {
                        self.s
                            .classes
                            .iter()
                            .any(|c| family.contains(c) && within(*f, *c))
                    })
                    .collect();
                Targets {
                    inside: vec![format!("self.{attr}"), format!("cls.{attr}")],
                    functions,
                    anywhere,
                    cache: false,
                }
            }
            Owned::Global(name) => Targets {
                inside: Vec::new(),
                functions: Vec::new(),
                anywhere: vec![name.clone()],
                cache: false,
            },
            Owned::Cache(container) => Targets {
                inside: Vec::new(),
                functions: Vec::new(),
                anywhere: vec![container.clone()],
                cache: true,
            },
        }
    }
}
