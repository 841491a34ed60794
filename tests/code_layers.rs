//! The source tree's layers (`src/lib.rs` draws the map): imports run one way, commands →
//! input / gate / report → pipeline, and the pure pipeline names nothing of the outside
//! world. Read from the source, comments and string literals left out (a CRI grammar's test
//! data says `stderr` and must).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FOLDERS: [&str; 7] = [
    "pipeline", "audit", "report", "gate", "input", "metrics", "cmd",
];

/// Which folder may import which.
const ALLOWED: [(&str, &[&str]); 7] = [
    ("pipeline", &[]),
    // The audit is pure like the pipeline: one Python file's bytes in, verdicts out.
    ("audit", &[]),
    ("gate", &["pipeline"]),
    ("report", &["gate", "pipeline", "audit"]),
    ("input", &["pipeline"]),
    // Prometheus metrics: an edge like input, fed by the commands.
    ("metrics", &["pipeline"]),
    (
        "cmd",
        &["input", "metrics", "gate", "report", "pipeline", "audit"],
    ),
];

/// Names the pipeline must not use: the outside world, the clock, threads, async, the CLI.
const OUTSIDE: [&str; 16] = [
    "tokio",
    "notify",
    "clap",
    "std::env",
    "std::process",
    "std::fs",
    "std::net",
    "std::thread",
    "std::time",
    "SystemTime",
    "Instant",
    "stdout",
    "stderr",
    "stdin",
    "println!",
    "print!",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without comments, string and character literals (each replaced by a space).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
            out.push(' ');
        } else if let Some(hashes) = raw_string_start(rest) {
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            i += body
                + rest[body..]
                    .find(&close)
                    .map_or(rest.len() - body, |e| e + close.len());
            out.push(' ');
        } else if b[i] == b'"' || rest.starts_with("b\"") {
            let mut j = i + if b[i] == b'"' { 1 } else { 2 };
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            i = j + 1;
            out.push(' ');
        } else if b[i] == b'\'' && char_literal_len(rest).is_some() {
            i += char_literal_len(rest).unwrap();
            out.push(' ');
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `r"`, `r#"`, `br##"` …: how many `#`.
fn raw_string_start(s: &str) -> Option<usize> {
    let s = s.strip_prefix('b').unwrap_or(s);
    let s = s.strip_prefix('r')?;
    let hashes = s.len() - s.trim_start_matches('#').len();
    s[hashes..].starts_with('"').then_some(hashes)
}

/// The length of a character literal at the start of `s` (not a lifetime).
fn char_literal_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.get(1) == Some(&b'\\') {
        return s[2..].find('\'').map(|e| e + 3);
    }
    let c = s[1..].chars().next()?;
    (s[1 + c.len_utf8()..].starts_with('\'')).then_some(2 + c.len_utf8())
}

fn folder_of(src: &Path, file: &Path) -> Option<&'static str> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?;
    FOLDERS.iter().copied().find(|f| *f == first)
}

fn sources() -> (PathBuf, Vec<PathBuf>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    (src, files)
}

#[test]
fn the_source_tree_is_the_layers() {
    let (src, files) = sources();
    let top: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut want: BTreeSet<String> = FOLDERS.iter().map(|f| (*f).to_owned()).collect();
    want.extend(["lib.rs", "main.rs"].map(String::from));
    assert_eq!(top, want, "src/ holds the layers and the two roots only");
    assert!(files.iter().all(|f| f == &src.join("lib.rs")
        || f == &src.join("main.rs")
        || folder_of(&src, f).is_some()));
}

#[test]
fn the_pipeline_names_nothing_of_the_outside_world() {
    let (src, files) = sources();
    let mut found = Vec::new();
    for f in files
        .iter()
        .filter(|f| matches!(folder_of(&src, f), Some("pipeline" | "audit")))
    {
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        for word in OUTSIDE {
            for (at, _) in code.match_indices(word) {
                let before = code[..at].chars().next_back();
                let after = code[at + word.len()..].chars().next();
                let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                let whole_word = !ident(after) || word.ends_with('!');
                if !ident(before) && whole_word {
                    found.push(format!(
                        "{}: {word}",
                        f.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the pure pipeline reaches out:\n{}",
        found.join("\n")
    );
}

#[test]
fn imports_run_one_way_between_the_layers() {
    let (src, files) = sources();
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for f in &files {
        let Some(from) = folder_of(&src, f) else {
            continue;
        };
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        for to in FOLDERS.iter().copied().filter(|t| *t != from) {
            if code.contains(&format!("crate::{to}")) || code.contains(&format!("unclosed::{to}")) {
                edges.entry(from).or_default().insert(to);
                let allowed = ALLOWED.iter().find(|(f, _)| *f == from).unwrap().1;
                if !allowed.contains(&to) {
                    wrong.push(format!(
                        "{} imports {to}",
                        f.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
    // The allowed edges form no cycle, so neither do the real ones; and the layers are used.
    assert!(edges.get("cmd").is_some_and(|e| e.len() == 6), "{edges:?}");
}

#[test]
fn the_checker_sees_through_comments_and_strings_only() {
    let code =
        code_only("let a = \"stdout\"; // tokio\nlet b = r#\"clap\"#; let c = '\"'; io::stderr()");
    assert!(!code.contains("stdout") && !code.contains("tokio") && !code.contains("clap"));
    assert!(code.contains("io::stderr()"), "{code}");
    assert!(code_only("fn f<'a>(x: &'a str) { std::env::var(x) }").contains("std::env"));
}
