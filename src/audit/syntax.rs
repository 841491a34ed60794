//! The parsed file and the few questions the audit asks of its syntax tree
//! (tree-sitter's Python grammar).

use tree_sitter::{Node, Parser, Tree};

/// Parses Python source; tree-sitter reads past syntax errors, marking them in the tree.
pub fn parse(src: &[u8]) -> Option<Tree> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    parser.parse(src, None)
}

/// A parsed file: its bytes and tree, and every node of a few kinds, gathered once.
pub struct Source<'t> {
    /// The file's bytes.
    pub src: &'t [u8],
    /// The module node.
    pub root: Node<'t>,
    /// Every `call` node, in source order.
    pub calls: Vec<Node<'t>>,
    /// Every `function_definition`.
    pub functions: Vec<Node<'t>>,
    /// Every `class_definition`.
    pub classes: Vec<Node<'t>>,
    /// Every `import_statement` and `import_from_statement`.
    pub imports: Vec<Node<'t>>,
    /// Every `comment`.
    pub comments: Vec<Node<'t>>,
    /// For each function and class (by node id): whether it is outside every function, and
    /// the class it is a method of. Read once: tree-sitter finds a parent by walking down
    /// from the root, too slow to ask per pair of definitions.
    defs: std::collections::HashMap<usize, (bool, Option<Node<'t>>)>,
}

impl<'t> Source<'t> {
    /// Reads the tree once.
    pub fn new(src: &'t [u8], tree: &'t Tree) -> Source<'t> {
        let mut s = Source {
            src,
            root: tree.root_node(),
            calls: Vec::new(),
            functions: Vec::new(),
            classes: Vec::new(),
            imports: Vec::new(),
            comments: Vec::new(),
            defs: Default::default(),
        };
        let mut cursor = tree.walk();
        let mut ancestors: Vec<Node<'t>> = Vec::new();
        loop {
            let n = cursor.node();
            match n.kind() {
                "call" => s.calls.push(n),
                "function_definition" | "class_definition" => {
                    if n.kind() == "function_definition" {
                        s.functions.push(n);
                    } else {
                        s.classes.push(n);
                    }
                    let top = !ancestors
                        .iter()
                        .any(|a| matches!(a.kind(), "function_definition" | "lambda"));
                    let kinds: Vec<&str> =
                        ancestors.iter().rev().take(4).map(|a| a.kind()).collect();
                    let method_of = match kinds.as_slice() {
                        ["block", "class_definition", ..] => Some(ancestors[ancestors.len() - 2]),
                        ["decorated_definition", "block", "class_definition", ..] => {
                            Some(ancestors[ancestors.len() - 3])
                        }
                        _ => None,
                    };
                    s.defs.insert(n.id(), (top, method_of));
                }
                "import_statement" | "import_from_statement" => s.imports.push(n),
                "comment" => s.comments.push(n),
                _ => {}
            }
            if cursor.goto_first_child() {
                ancestors.push(n);
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return s;
                }
                ancestors.pop();
            }
        }
    }

    /// Whether a function or class is outside every function.
    pub fn is_top_level(&self, def: Node<'_>) -> bool {
        self.defs.get(&def.id()).is_some_and(|d| d.0)
    }

    /// The class a function is a method of.
    pub fn method_of(&self, f: Node<'_>) -> Option<Node<'t>> {
        self.defs.get(&f.id()).and_then(|d| d.1)
    }

    /// A node's text (empty when it is not UTF-8).
    pub fn text(&self, n: Node<'_>) -> &'t str {
        std::str::from_utf8(&self.src[n.byte_range()]).unwrap_or("")
    }

    /// 1-based line and column (in characters) of a node's start.
    pub fn position(&self, n: Node<'_>) -> (u32, u32) {
        let p = n.start_position();
        let line_start = n.start_byte() - p.column;
        let prefix = &self.src[line_start..n.start_byte()];
        let column = String::from_utf8_lossy(prefix).chars().count();
        (to_u32(p.row + 1), to_u32(column + 1))
    }

    /// The whole source line a node starts on (lossy UTF-8).
    pub fn line_text(&self, n: Node<'_>) -> String {
        let start = n.start_byte() - n.start_position().column;
        let end = memchr::memchr(b'\n', &self.src[start..]).map_or(self.src.len(), |e| start + e);
        String::from_utf8_lossy(&self.src[start..end]).into_owned()
    }

    /// 1-based line of a node's start.
    pub fn line(&self, n: Node<'_>) -> u32 {
        to_u32(n.start_position().row + 1)
    }

    /// Where the first syntax error is, if the file has one.
    pub fn first_error(&self) -> Option<(u32, u32)> {
        if !self.root.has_error() {
            return None;
        }
        let mut n = self.root;
        'down: loop {
            if n.is_error() || n.is_missing() {
                return Some(self.position(n));
            }
            let mut c = n.walk();
            for child in n.children(&mut c) {
                if child.has_error() {
                    n = child;
                    continue 'down;
                }
            }
            return Some(self.position(n));
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The named children of a node.
pub fn children(n: Node<'_>) -> Vec<Node<'_>> {
    let mut c = n.walk();
    n.named_children(&mut c).collect()
}

/// Every descendant of `n` (itself included), in source order.
pub fn descendants(n: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut cursor = n.walk();
    loop {
        out.push(cursor.node());
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node() == n {
                return out;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return out;
            }
        }
    }
}

/// The nodes of `n` (itself included) that belong to it rather than to a function nested
/// in it: nested `def`s are not entered.
pub fn own_nodes(n: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut cursor = n.walk();
    loop {
        let x = cursor.node();
        out.push(x);
        let nested = x != n && x.kind() == "function_definition";
        if !nested && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node() == n {
                return out;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return out;
            }
        }
    }
}

/// Whether `inner` lies inside `outer` (or is it).
pub fn within(inner: Node<'_>, outer: Node<'_>) -> bool {
    outer.start_byte() <= inner.start_byte() && inner.end_byte() <= outer.end_byte()
}

/// The innermost function definition holding `n` (not `n` itself).
pub fn enclosing_function(n: Node<'_>) -> Option<Node<'_>> {
    let mut p = n.parent();
    while let Some(x) = p {
        if x.kind() == "function_definition" {
            return Some(x);
        }
        p = x.parent();
    }
    None
}

/// The innermost function or lambda holding `n` (not `n` itself).
pub fn enclosing_scope(n: Node<'_>) -> Option<Node<'_>> {
    let mut p = n.parent();
    while let Some(x) = p {
        if matches!(x.kind(), "function_definition" | "lambda") {
            return Some(x);
        }
        p = x.parent();
    }
    None
}

/// The class whose body holds `n` directly (a class attribute), with no function between.
pub fn class_of_body_statement(n: Node<'_>) -> Option<Node<'_>> {
    let mut p = n.parent();
    while let Some(x) = p {
        match x.kind() {
            "function_definition" | "lambda" => return None,
            "class_definition" => return Some(x),
            _ => p = x.parent(),
        }
    }
    None
}

/// Whether a function is `async def`.
pub fn is_async(f: Node<'_>) -> bool {
    let mut c = f.walk();
    f.children(&mut c).any(|x| x.kind() == "async")
}

/// Whether a `with` statement is `async with`.
pub fn is_async_with(w: Node<'_>) -> bool {
    let mut c = w.walk();
    w.children(&mut c).any(|x| x.kind() == "async")
}

/// The `name` field's text.
pub fn name_of<'t>(s: &Source<'t>, def: Node<'_>) -> &'t str {
    def.child_by_field_name("name")
        .map(|n| s.text(n))
        .unwrap_or("")
}

/// `Class.method`, or `function`, naming a function definition.
pub fn qualified_name(s: &Source<'_>, f: Node<'_>) -> String {
    let mut parts = vec![name_of(s, f).to_owned()];
    let mut p = f.parent();
    while let Some(x) = p {
        if matches!(x.kind(), "class_definition" | "function_definition") {
            parts.push(name_of(s, x).to_owned());
        }
        p = x.parent();
    }
    parts.reverse();
    parts.join(".")
}

/// The statement holding `n`: the nearest ancestor (or itself) whose parent is a block or
/// the module.
pub fn statement_of(n: Node<'_>) -> Node<'_> {
    let mut x = n;
    while let Some(p) = x.parent() {
        if matches!(p.kind(), "block" | "module") {
            return x;
        }
        x = p;
    }
    x
}

/// The expression `n` stands for once parentheses, `x if c else y`, `a or b` and `await`
/// around it are taken as its own: climbs while the parent passes the value through.
pub fn value_holder(n: Node<'_>) -> Node<'_> {
    let mut x = n;
    while let Some(p) = x.parent() {
        let through = match p.kind() {
            "parenthesized_expression" | "await" => true,
            // Only as a branch, not as the condition.
            "conditional_expression" => p.named_child(1) != Some(x),
            "boolean_operator" => true,
            _ => false,
        };
        if !through {
            break;
        }
        x = p;
    }
    x
}

/// The first parameter's name of a function (`self`, `cls`), if any.
pub fn first_parameter<'t>(s: &Source<'t>, f: Node<'_>) -> Option<&'t str> {
    let params = f.child_by_field_name("parameters")?;
    let first = children(params).into_iter().next()?;
    let id = match first.kind() {
        "identifier" => first,
        _ => first
            .child_by_field_name("name")
            .or_else(|| first.named_child(0))?,
    };
    Some(s.text(id))
}

/// The parameter names of a function, in order, and whether the first is `self`/`cls`.
pub fn parameters<'t>(s: &Source<'t>, f: Node<'_>) -> Vec<&'t str> {
    let Some(params) = f.child_by_field_name("parameters") else {
        return Vec::new();
    };
    children(params)
        .into_iter()
        .filter_map(|p| match p.kind() {
            "identifier" => Some(s.text(p)),
            "default_parameter" | "typed_default_parameter" => {
                p.child_by_field_name("name").map(|n| s.text(n))
            }
            "typed_parameter" => p.named_child(0).map(|n| s.text(n)),
            _ => None,
        })
        .collect()
}
