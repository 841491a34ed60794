//! Follows each constructed object from its constructor to where it ends, and decides who
//! owns it and whether that owner closes it. Calls within the file are followed where they
//! decide (a helper that closes its argument, a function that returns a new session, a
//! class that stores what it is given); anything beyond the file is `unknown`, with what
//! it would need.
//!
//! `value` follows where the value goes, `local` what a name bound to it does, `stored`
//! who owns it when it is kept, `close` how closes are found, `replace` whether a kept one
//! is overwritten live, `asyncio_run` the event loop per call, `factory` the factories
//! handed across files, `lookup` the file's functions, classes and calls.

mod asyncio_run;
mod close;
mod factory;
mod local;
mod lookup;
mod replace;
mod stored;
mod value;

use tree_sitter::Node;

use crate::audit::names::{Callee, Names};
use crate::audit::syntax::{Source, children, enclosing_function, qualified_name, statement_of};
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
