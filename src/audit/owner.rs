//! Follows each constructed object from its constructor to where it ends, and decides who
//! owns it and whether that owner closes it. Calls within the file are followed where they
//! decide (a helper that closes its argument, a function that returns a new session, a
//! class that stores what it is given); anything beyond the file is `unknown`, with what
//! it would need.

use tree_sitter::Node;

use crate::audit::names::{Callee, Names};
use crate::audit::syntax::{
    Source, children, class_of_body_statement, descendants, enclosing_function, enclosing_scope,
    first_parameter, is_async, is_async_with, name_of, own_nodes, parameters, qualified_name,
    statement_of, value_holder, within,
};
use crate::audit::{Construction, Constructs, Factory, Need, Verdict};

/// How deep calls are followed (a function returning what another returns …).
const MAX_DEPTH: u8 = 4;

/// Methods whose assignment of an attribute is its first, not a replacement.
const SETUP_METHODS: [&str; 5] = ["__init__", "__new__", "__aenter__", "setUp", "asyncSetUp"];

/// Callees known to look at an object without taking it.
const LOOKS_ONLY: [&str; 12] = [
    "isinstance",
    "print",
    "len",
    "id",
    "repr",
    "str",
    "type",
    "hasattr",
    "getattr",
    "bool",
    "callable",
    "format",
];

/// A verdict with its owner and reason.
#[derive(Clone, Debug)]
struct Decision {
    verdict: Verdict,
    owner: String,
    why: String,
    /// What another file of the audit would decide (a factory handed to its class).
    need: Option<Need>,
}

fn decision(verdict: Verdict, owner: impl Into<String>, why: impl Into<String>) -> Decision {
    Decision {
        verdict,
        owner: owner.into(),
        why: why.into(),
        need: None,
    }
}

/// The factories the file's classes keep (for other files' factory lambdas).
pub fn factories(s: &Source<'_>, names: &Names) -> Vec<Factory> {
    Audit { s, names }.factories()
}

/// Decides every construction in the file.
pub fn decide(s: &Source<'_>, names: &Names) -> Vec<Construction> {
    let a = Audit { s, names };
    let mut out = Vec::new();
    for call in &s.calls {
        let Some(callee) = call.child_by_field_name("function") else {
            continue;
        };
        let name_node = match callee.kind() {
            "attribute" => callee.child_by_field_name("attribute").unwrap_or(callee),
            _ => callee,
        };
        let (kind, d) = match names.resolve(s, callee) {
            Callee::Other => continue,
            Callee::Ambiguous(name) => {
                // Count it as a session: the name was imported as aiohttp's constructor.
                let kind = Constructs::ClientSession;
                let d = decision(
                    Verdict::Unknown,
                    a.scope_label(*call),
                    format!(
                        "`{name}` is bound both to aiohttp's constructor and to something else in \
                         this file: needs which binding this call sees"
                    ),
                );
                (kind, d)
            }
            Callee::Aiohttp { kind, via } => {
                let mut d = a.value(*call, kind, 0);
                if let Some(v) = via {
                    d.why = format!("{v} subclasses aiohttp's {}; {}", kind.name(), d.why);
                }
                (kind, d)
            }
        };
        let (line, column) = s.position(name_node);
        out.push(Construction {
            line,
            column,
            constructs: kind,
            verdict: d.verdict,
            owner: d.owner,
            why: d.why,
            function: enclosing_function(*call).map(|f| qualified_name(s, f)),
            suppressed: false,
            code: s.line_text(name_node).trim().to_owned(),
            need: d.need.clone(),
            session_line: a.session_of_inline_connector(*call, kind),
            called_from: enclosing_function(*call)
                .map(|f| a.call_sites(f).iter().map(|c| s.line(*c)).collect())
                .unwrap_or_default(),
        });
        let last = out.len() - 1;
        out[last].suppressed = a.suppressed(*call, d.verdict);
    }
    out
}

struct Audit<'a, 't> {
    s: &'a Source<'t>,
    names: &'a Names,
}

/// What happened to a name bound to the object, read from its uses.
#[derive(Default)]
struct Uses {
    /// Where the uses start (the end of the binding, the start of a callee's body).
    after: usize,
    /// A close that runs on every path (`finally`, `async with`, a helper that does).
    guaranteed: Option<String>,
    /// An awaited close on some path only.
    unguaranteed: Option<String>,
    /// A close that does not close: never awaited, or only in `__del__`.
    not_a_close: Option<String>,
    /// Returned or yielded from the scope.
    returned: bool,
    yielded: bool,
    /// Stored elsewhere, with the decision for that owner.
    stored: Option<Decision>,
    /// Given to a session as its connector: the session call and connector_owner=False.
    session_uses: Vec<(usize, bool)>,
    /// Handed to code the audit cannot see.
    external: Option<String>,
}

impl<'t> Audit<'_, 't> {
    fn text(&self, n: Node<'t>) -> &'t str {
        self.s.text(n)
    }

    fn scope_label(&self, n: Node<'t>) -> String {
        enclosing_function(n)
            .map(|f| qualified_name(self.s, f))
            .unwrap_or_else(|| "<module>".into())
    }

    /// Whether a `# unclosed: ignore[…]` comment on the construction's line or its
    /// statement's first line accepts this verdict.
    fn suppressed(&self, call: Node<'t>, verdict: Verdict) -> bool {
        let lines = [self.s.line(call), self.s.line(statement_of(call))];
        self.s.comments.iter().any(|c| {
            lines.contains(&self.s.line(*c)) && suppression_accepts(self.text(*c), verdict.name())
        })
    }

    /// The decision for a value made at `call`: where does it go?
    fn value(&self, call: Node<'t>, kind: Constructs, depth: u8) -> Decision {
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
    fn with_item(&self, item: Node<'t>, kind: Constructs, scope: &str) -> Decision {
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
    fn session_of_inline_connector(&self, call: Node<'t>, kind: Constructs) -> Option<u32> {
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

    /// A factory lambda handed to a class imported from another module: what that module
    /// would have to say (see [`crate::audit::resolve_across`]).
    fn factory_need(&self, lambda: Node<'t>) -> Option<Need> {
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
    fn factories(&self) -> Vec<Factory> {
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
    fn lambda_destination(&self, lambda: Node<'t>) -> String {
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

    /// The object is an argument of `call`.
    fn argument(
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
    fn follow_into_callee(
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

    /// The function a call reaches in this file, and whether its first parameter is the
    /// instance (a method, or a class's `__init__`).
    fn local_callee(&self, call: Node<'t>, callee: Node<'t>) -> Option<(Node<'t>, bool)> {
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

    fn top_level_class(&self, name: &str) -> Option<Node<'t>> {
        self.s
            .classes
            .iter()
            .copied()
            .find(|c| name_of(self.s, *c) == name && self.s.is_top_level(*c))
    }

    /// A method of a class of this file, looked up through its bases in the file too.
    fn method(&self, class: Node<'t>, name: &str) -> Option<Node<'t>> {
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
    fn lineage(&self, class: Node<'t>) -> Vec<Node<'t>> {
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
    fn family(&self, class: Node<'t>) -> Vec<Node<'t>> {
        let mut out = self.lineage(class);
        for c in &self.s.classes {
            if !out.contains(c) && self.lineage(*c).contains(&class) {
                out.push(*c);
            }
        }
        out
    }

    fn is_session(&self, call: Node<'t>) -> bool {
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

    /// `return X(…)`: the callers in this file decide; none means it is theirs elsewhere.
    fn returned(&self, call: Node<'t>, kind: Constructs, depth: u8) -> Decision {
        let Some(f) = enclosing_function(call) else {
            return decision(Verdict::Unknown, "<module>", "a return outside a function");
        };
        self.returned_from(f, kind, depth)
    }

    fn returned_from(&self, f: Node<'t>, kind: Constructs, depth: u8) -> Decision {
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

    /// Calls of a function in this file: `f(…)`, or `self.f(…)` / `cls.f(…)` / `C.f(…)` for
    /// a method.
    fn call_sites(&self, f: Node<'t>) -> Vec<Node<'t>> {
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

    /// `target = X(…)`.
    fn assigned(&self, assign: Node<'t>, left: Node<'t>, kind: Constructs, depth: u8) -> Decision {
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

    fn declares_global(&self, f: Node<'t>, name: &str) -> bool {
        descendants(f).into_iter().any(|n| {
            n.kind() == "global_statement"
                && enclosing_function(n) == Some(f)
                && children(n).iter().any(|x| self.text(*x) == name)
        })
    }

    /// A local that nothing closes, returns or stores: made per call, or per event loop
    /// when a sync function runs its coroutine with `asyncio.run`.
    fn never_closed_local(&self, f: Node<'t>, name: &str, kind: Constructs) -> Decision {
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

    /// A sync function of this file that runs `f` (or a coroutine awaiting it) with
    /// `asyncio.run(…)` / `run_until_complete(…)`, and the line.
    fn run_per_call(&self, f: Node<'t>) -> Option<(String, u32)> {
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

    fn runs_a_loop(&self, call: Node<'t>) -> bool {
        call.child_by_field_name("function").is_some_and(|f| {
            let t = self.text(f);
            t == "asyncio.run" || t.ends_with("run_until_complete")
        })
    }

    /// What happens to the names bound to the object in `scope` after byte `after`.
    fn uses(
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

    fn use_of(
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

    fn argument_use(
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

    /// Whether nothing that can fail (a call, an await) runs between byte `after` and the
    /// statement holding `close` in `scope`: then a close outside `finally` runs anyway.
    fn nothing_before(&self, scope: Node<'t>, after: usize, close: Node<'t>) -> bool {
        let start = statement_of(close).start_byte();
        !descendants(scope).into_iter().any(|n| {
            matches!(n.kind(), "call" | "await") && n.start_byte() >= after && n.end_byte() <= start
        })
    }

    /// A `X.close()` call: a close if awaited (or any call, for a connector: aiohttp's
    /// connector closes at once), not in `__del__`.
    fn close_event(
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
    fn awaited(&self, call: Node<'t>) -> bool {
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

    fn in_finally(&self, n: Node<'t>) -> bool {
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

    /// The decision from a local's uses, `None` when it was only used.
    fn combine(
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

    /// An object stored on a class, an instance, a module or a cache: does its owner close
    /// it, and is an old one replaced without a close?
    fn owned(
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
    fn names_place(&self, e: Node<'t>, targets: &[String]) -> bool {
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
    fn targets(&self, place: &Owned<'t>) -> Targets<'t> {
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

    /// Finds a close of the place in these functions (or at module level).
    fn closes_of(&self, t: &Targets<'t>, kind: Constructs) -> Closes {
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

    /// When an assignment may overwrite a live object without closing it: outside set-up
    /// methods, with no check that the place is empty or closed and no close before it.
    fn replaced(&self, assign: Node<'t>, targets: &[String], kind: Constructs) -> Option<String> {
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
    fn guarded(&self, assign: Node<'t>, f: Node<'t>, target: &str) -> bool {
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
    fn absent(&self, c: Node<'t>, t: &str) -> bool {
        let text = normalize(self.text(c));
        match c.kind() {
            "parenthesized_expression" => c.named_child(0).is_some_and(|e| self.absent(e, t)),
            "not_operator" => c
                .child_by_field_name("argument")
                .is_some_and(|a| self.present(a, t)),
            "boolean_operator" => {
                let (l, r) = (
                    c.child_by_field_name("left"),
                    c.child_by_field_name("right"),
                );
                let op = c.child_by_field_name("operator").map(|o| self.text(o));
                let (l, r) = (
                    l.is_some_and(|l| self.absent(l, t)),
                    r.is_some_and(|r| self.absent(r, t)),
                );
                if op == Some("or") { l && r } else { l || r }
            }
            "comparison_operator" => {
                text == format!("{t} is None") || text == format!("{t} == None")
            }
            "attribute" => text == format!("{t}.closed"),
            _ => false,
        }
    }

    /// `cond` false ⇒ the place holds nothing live.
    fn present(&self, c: Node<'t>, t: &str) -> bool {
        let text = normalize(self.text(c));
        match c.kind() {
            "parenthesized_expression" => c.named_child(0).is_some_and(|e| self.present(e, t)),
            "not_operator" => c
                .child_by_field_name("argument")
                .is_some_and(|a| self.absent(a, t)),
            "boolean_operator" => {
                let (l, r) = (
                    c.child_by_field_name("left"),
                    c.child_by_field_name("right"),
                );
                let op = c.child_by_field_name("operator").map(|o| self.text(o));
                let (l, r) = (
                    l.is_some_and(|l| self.present(l, t)),
                    r.is_some_and(|r| self.present(r, t)),
                );
                if op == Some("or") { l || r } else { l && r }
            }
            "comparison_operator" => {
                text == format!("{t} is not None") || text == format!("{t} != None")
            }
            "identifier" | "attribute" => text == t,
            "call" => text.starts_with("isinstance(") && text[11..].starts_with(&format!("{t},")),
            _ => false,
        }
    }
}

/// Where an object is stored.
enum Owned<'t> {
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
struct Targets<'t> {
    /// Texts naming it inside `functions` only (`self.x`).
    inside: Vec<String>,
    /// The functions of its class's family.
    functions: Vec<Node<'t>>,
    /// Texts naming it anywhere (`Class.x`, a global, a cache).
    anywhere: Vec<String>,
    /// It is a container of objects.
    cache: bool,
}

#[derive(Default)]
struct Closes {
    closed: Option<String>,
    note: Option<String>,
}

/// `connector_owner=False` among a session call's arguments.
fn connector_owner_false(a: &Audit<'_, '_>, call: Node<'_>) -> bool {
    call.child_by_field_name("arguments").is_some_and(|args| {
        children(args).iter().any(|k| {
            k.kind() == "keyword_argument"
                && k.child_by_field_name("name")
                    .is_some_and(|n| a.text(n) == "connector_owner")
                && k.child_by_field_name("value")
                    .is_some_and(|v| a.text(v) == "False")
        })
    })
}

/// Whitespace squeezed to single spaces, around parentheses and commas removed.
fn normalize(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    joined
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
        .replace(", ", ",")
}

/// Whether a comment `# unclosed: ignore` / `# unclosed: ignore[a, b]` accepts `verdict`.
pub fn suppression_accepts(comment: &str, verdict: &str) -> bool {
    let Some(at) = comment.find("unclosed:") else {
        return false;
    };
    let rest = comment[at + "unclosed:".len()..].trim_start();
    let Some(rest) = rest.strip_prefix("ignore") else {
        return false;
    };
    match rest.strip_prefix('[') {
        None => rest.is_empty() || rest.starts_with(char::is_whitespace) || rest.starts_with('#'),
        Some(list) => list
            .split(']')
            .next()
            .unwrap_or("")
            .split(',')
            .any(|v| v.trim() == verdict),
    }
}
