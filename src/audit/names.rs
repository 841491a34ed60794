//! Which names in a file are aiohttp's: `import aiohttp [as ah]`, `from aiohttp[.client]
//! import ClientSession [as S]`, `from aiohttp import *`, `S = aiohttp.ClientSession`, and
//! classes of the file that subclass a session or connector. A name bound to aiohttp and
//! to something else in the same file is ambiguous, never guessed.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use crate::audit::Constructs;
use crate::audit::syntax::{Source, children, name_of};

/// What a callee names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Callee {
    /// One of aiohttp's constructors; `via` names the local subclass when it is one.
    Aiohttp {
        /// What it builds.
        kind: Constructs,
        /// The local subclass's name, when the call names one.
        via: Option<String>,
    },
    /// A name bound both to aiohttp's constructor and to something else.
    Ambiguous(String),
    /// Anything else.
    Other,
}

/// The file's bindings of aiohttp's names.
#[derive(Debug, Default)]
pub struct Names {
    /// Local name → aiohttp module path (`ah` → `aiohttp`, `client` → `aiohttp.client`).
    modules: HashMap<String, String>,
    /// Local name → aiohttp symbol path (`S` → `aiohttp.ClientSession`).
    symbols: HashMap<String, String>,
    /// Local classes that subclass a constructor: name → what they build.
    subclasses: HashMap<String, Constructs>,
    /// Names bound to something that is not aiohttp's (other imports, defs, classes).
    other: HashSet<String>,
    /// `from aiohttp import *` was seen.
    star: bool,
    /// Other imports: local name → dotted path (`T` → `pkg.mod.Transport`, `.mod.T` for a
    /// relative import).
    foreign: HashMap<String, String>,
}

/// aiohttp's constructors by their path below the package.
fn constructor(path: &str) -> Option<Constructs> {
    let rest = path.strip_prefix("aiohttp.")?;
    Some(match rest {
        "ClientSession" | "client.ClientSession" => Constructs::ClientSession,
        "TCPConnector" | "connector.TCPConnector" => Constructs::TCPConnector,
        "UnixConnector" | "connector.UnixConnector" => Constructs::UnixConnector,
        "NamedPipeConnector" | "connector.NamedPipeConnector" => Constructs::NamedPipeConnector,
        "request" | "client.request" => Constructs::Request,
        _ => return None,
    })
}

fn is_aiohttp(module: &str) -> bool {
    module == "aiohttp" || module.starts_with("aiohttp.")
}

impl Names {
    /// Reads the file's imports, aliases and class definitions (anywhere in the file:
    /// libraries import inside functions to save start-up time).
    pub fn read(s: &Source<'_>) -> Names {
        let mut n = Names::default();
        for imp in &s.imports {
            n.import(s, *imp);
        }
        // `S = aiohttp.ClientSession` at module level.
        for stmt in children(s.root) {
            if stmt.kind() != "expression_statement" {
                continue;
            }
            let Some(a) = stmt.named_child(0).filter(|a| a.kind() == "assignment") else {
                continue;
            };
            let (Some(left), Some(right)) = (
                a.child_by_field_name("left"),
                a.child_by_field_name("right"),
            ) else {
                continue;
            };
            if left.kind() == "identifier" {
                match n.path(s, right) {
                    Some(p) if constructor(&p).is_some() => {
                        n.symbols.insert(s.text(left).to_owned(), p);
                    }
                    _ => {}
                }
            }
        }
        // Local subclasses, to a fixed point (a subclass of a subclass).
        loop {
            let mut changed = false;
            for c in &s.classes {
                let name = name_of(s, *c);
                if n.subclasses.contains_key(name) {
                    continue;
                }
                let kind = c.child_by_field_name("superclasses").and_then(|sup| {
                    children(sup)
                        .into_iter()
                        .find_map(|b| match n.resolve(s, b) {
                            Callee::Aiohttp { kind, .. } => Some(kind),
                            _ => None,
                        })
                });
                if let Some(k) = kind {
                    n.subclasses.insert(name.to_owned(), k);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // Other classes and functions whose names shadow an imported constructor.
        for d in s.classes.iter().chain(&s.functions) {
            let name = name_of(s, *d);
            if !n.subclasses.contains_key(name) && s.is_top_level(*d) {
                n.other.insert(name.to_owned());
            }
        }
        n
    }

    fn import(&mut self, s: &Source<'_>, imp: Node<'_>) {
        let mut c = imp.walk();
        let names: Vec<Node<'_>> = imp.children_by_field_name("name", &mut c).collect();
        if imp.kind() == "import_statement" {
            for name in names {
                let (dotted, alias) = split_alias(s, name);
                let first = dotted.split('.').next().unwrap_or("");
                if is_aiohttp(&dotted) {
                    match alias {
                        Some(a) => self.modules.insert(a, dotted.clone()),
                        None => self.modules.insert(first.to_owned(), first.to_owned()),
                    };
                } else {
                    let local = alias.clone().unwrap_or_else(|| first.to_owned());
                    let path = if alias.is_some() {
                        dotted.clone()
                    } else {
                        first.to_owned()
                    };
                    self.foreign.insert(local.clone(), path);
                    self.other.insert(local);
                }
            }
            return;
        }
        let module = imp
            .child_by_field_name("module_name")
            .map(|m| s.text(m).to_owned())
            .unwrap_or_default();
        let aiohttp = is_aiohttp(&module);
        let mut c = imp.walk();
        if aiohttp && imp.children(&mut c).any(|x| x.kind() == "wildcard_import") {
            self.star = true;
        }
        for name in names {
            let (dotted, alias) = split_alias(s, name);
            let local = alias.unwrap_or_else(|| dotted.clone());
            if !aiohttp {
                let sep = if module.ends_with('.') { "" } else { "." };
                self.foreign
                    .insert(local.clone(), format!("{module}{sep}{dotted}"));
                self.other.insert(local);
                continue;
            }
            let full = format!("{module}.{dotted}");
            if constructor(&full).is_some() {
                self.symbols.insert(local, full);
            } else {
                // `from aiohttp import client` binds a module; other names are harmless.
                self.modules.insert(local, full);
            }
        }
    }

    /// The dotted path an expression names, with its first name resolved through the
    /// file's aiohttp bindings (`ah.client.ClientSession` → `aiohttp.client.ClientSession`).
    fn path(&self, s: &Source<'_>, e: Node<'_>) -> Option<String> {
        match e.kind() {
            "identifier" => {
                let id = s.text(e);
                if let Some(p) = self.symbols.get(id).or_else(|| self.modules.get(id)) {
                    Some(p.clone())
                } else if self.star && constructor(&format!("aiohttp.{id}")).is_some() {
                    Some(format!("aiohttp.{id}"))
                } else {
                    None
                }
            }
            "attribute" => {
                let object = e.child_by_field_name("object")?;
                let attr = e.child_by_field_name("attribute")?;
                Some(format!("{}.{}", self.path(s, object)?, s.text(attr)))
            }
            _ => None,
        }
    }

    /// The dotted path an expression names through the file's other imports
    /// (`LiteLLMAiohttpTransport` → `litellm.llms.custom_httpx.aiohttp_transport.LiteLLMAiohttpTransport`).
    pub fn foreign_path(&self, s: &Source<'_>, e: Node<'_>) -> Option<String> {
        match e.kind() {
            "identifier" => self.foreign.get(s.text(e)).cloned(),
            "attribute" => {
                let object = e.child_by_field_name("object")?;
                let attr = e.child_by_field_name("attribute")?;
                Some(format!(
                    "{}.{}",
                    self.foreign_path(s, object)?,
                    s.text(attr)
                ))
            }
            _ => None,
        }
    }

    /// What a call's function expression names.
    pub fn resolve(&self, s: &Source<'_>, callee: Node<'_>) -> Callee {
        if callee.kind() == "identifier" {
            let id = s.text(callee);
            if let Some(k) = self.subclasses.get(id) {
                return Callee::Aiohttp {
                    kind: *k,
                    via: Some(id.to_owned()),
                };
            }
        }
        let Some(kind) = self.path(s, callee).as_deref().and_then(constructor) else {
            return Callee::Other;
        };
        if callee.kind() == "identifier" && self.other.contains(s.text(callee)) {
            return Callee::Ambiguous(s.text(callee).to_owned());
        }
        Callee::Aiohttp { kind, via: None }
    }
}

/// `a.b as c` → (`a.b`, Some(`c`)); `a.b` → (`a.b`, None).
fn split_alias(s: &Source<'_>, n: Node<'_>) -> (String, Option<String>) {
    if n.kind() == "aliased_import" {
        let name = n
            .child_by_field_name("name")
            .map(|x| s.text(x).to_owned())
            .unwrap_or_default();
        let alias = n.child_by_field_name("alias").map(|x| s.text(x).to_owned());
        (name, alias)
    } else {
        (s.text(n).to_owned(), None)
    }
}
