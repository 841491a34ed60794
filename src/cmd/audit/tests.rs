//! `unclosed audit` run in-process on the hand-written shapes (tests/audit/) and on small
//! trees made in temp dirs: formats, policy, suppression, baseline, the walk, escaping.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cmd::Env;
use crate::cmd::in_process::{self, Ran};
use crate::exit;

/// `unclosed audit ARGS…` with `env`.
fn run_with(env: Env, args: &[&str]) -> Ran {
    in_process::run_with(env, &[&["audit"], args].concat())
}

fn run(args: &[&str]) -> Ran {
    run_with(Env::default(), args)
}

fn shapes() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/audit")
        .to_string_lossy()
        .into_owned()
}

fn json_of(args: &[&str]) -> Value {
    let mut a = vec!["--format", "json"];
    a.extend_from_slice(args);
    let r = run(&a);
    serde_json::from_str(&r.out).unwrap_or_else(|e| panic!("{e}: {}", r.out))
}

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

const LEAK: &str = "import aiohttp\n\nasync def fetch(url):\n    s = aiohttp.ClientSession()\n    return await s.get(url)\n";
const FINE: &str = "import aiohttp\n\nasync def fetch(url):\n    async with aiohttp.ClientSession() as s:\n        return await s.get(url)\n";

#[test]
fn text_lists_problems_like_a_linter_and_exits_1_on_a_bug() {
    let r = run(&[&shapes()]);
    assert_eq!(r.code, exit::POLICY, "{}", r.err);
    let first = r.out.lines().next().unwrap();
    // path:line:col: VERDICT constructs: why
    let re = regex::Regex::new(r"^.*tests/audit/asyncio_run_per_call\.py:10:23: asyncio_run_per_call ClientSession: get_prices runs it").unwrap();
    assert!(re.is_match(first), "{first}");
    assert!(
        r.out.contains("    owner: local session in _fetch\n"),
        "{}",
        r.out
    );
    // Each verdict's fix once, at the end; under every entry with --verbose.
    assert_eq!(
        r.out
            .matches("\nfix for asyncio_run_per_call: Each call runs `asyncio.run()`")
            .count(),
        1,
        "{}",
        r.out
    );
    assert_eq!(r.out.matches("fix for per_call: ").count(), 1, "{}", r.out);
    assert!(!r.out.contains("    fix: "), "{}", r.out);
    let verbose = run(&["--verbose", &shapes()]);
    let shown = verbose.out.lines().filter(|l| l.contains(".py:")).count();
    assert_eq!(
        verbose.out.matches("\n    fix: ").count(),
        shown,
        "{}",
        verbose.out
    );
    assert!(!verbose.out.contains("fix for "), "{}", verbose.out);
    // Problems only: no `ok` line, no look-alike.
    assert!(!r.out.contains(": ok "), "{}", r.out);
    assert!(!r.out.contains("lookalikes.py"), "{}", r.out);
    let all = run(&["--all", &shapes()]);
    assert!(
        all.out
            .contains(": ok ClientSession: closed by `async with`"),
        "{}",
        all.out
    );
    assert!(all.out.lines().count() > r.out.lines().count());
    assert!(r.out.ends_with("fail the policy\n"), "{}", r.out);
}

#[test]
fn json_is_the_documented_contract_with_every_construction() {
    let v = json_of(&[&shapes()]);
    assert_eq!(v["schema"], "unclosed-audit/1");
    let files = v["files"].as_object().unwrap();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["scanned", "skipped", "parse_errors"]
    );
    assert!(v["files"]["scanned"].as_u64().unwrap() >= 13);
    let list = v["constructions"].as_array().unwrap();
    let keys: Vec<&String> = list[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "file",
            "line",
            "column",
            "constructs",
            "verdict",
            "owner",
            "why",
            "fix",
            "confirmed"
        ]
    );
    assert!(list.iter().all(|c| c["confirmed"].is_null()));
    // Totals count every verdict, ok included, and add up to the list.
    let totals = v["totals"].as_object().unwrap();
    assert_eq!(totals.len(), 8);
    let sum: u64 = totals.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(sum, list.len() as u64);
    assert!(totals["ok"].as_u64().unwrap() > 10, "{totals:?}");
    let kinds: std::collections::BTreeSet<&str> = list
        .iter()
        .map(|c| c["constructs"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "ClientSession",
            "NamedPipeConnector",
            "TCPConnector",
            "UnixConnector",
            "request"
        ]
    );
    // The same answer on one thread.
    assert_eq!(json_of(&["-j1", &shapes()]), v);
}

#[test]
fn fail_on_chooses_what_fails() {
    let dir = tree(&[("a.py", LEAK)]);
    let p = dir.path().to_str().unwrap();
    assert_eq!(run(&[p]).code, exit::POLICY);
    assert_eq!(run(&["--fail-on", "none", p]).code, exit::OK);
    assert_eq!(run(&["--fail-on", "owned-never-closed", p]).code, exit::OK);
    assert_eq!(run(&["--fail-on", "per-call", p]).code, exit::POLICY);
    let fine = tree(&[("a.py", FINE)]);
    let r = run(&[fine.path().to_str().unwrap()]);
    assert_eq!(r.code, exit::OK);
    assert!(
        r.out
            .starts_with("unclosed audit: 1 construction(s) in 1 file(s): 1 ok; 0 fail"),
        "{}",
        r.out
    );
}

#[test]
fn an_inline_comment_accepts_a_reviewed_construction() {
    let src = LEAK.replace(
        "s = aiohttp.ClientSession()",
        "s = aiohttp.ClientSession()  # unclosed: ignore[per_call]",
    );
    let dir = tree(&[("a.py", &src)]);
    let p = dir.path().to_str().unwrap();
    let r = run(&[p]);
    assert_eq!(r.code, exit::OK, "{}", r.out);
    assert!(!r.out.contains("per_call ClientSession"), "{}", r.out);
    assert!(run(&["--all", p]).out.contains("(suppressed)"));
    // Another verdict's name does not.
    let other = tree(&[("a.py", &src.replace("[per_call]", "[unknown]"))]);
    assert_eq!(run(&[other.path().to_str().unwrap()]).code, exit::POLICY);
}

#[test]
fn a_baseline_accepts_todays_constructions_until_their_code_changes() {
    let dir = tree(&[("src/a.py", LEAK)]);
    let base = dir.path().join("baseline");
    let (p, b) = (
        dir.path().join("src").to_string_lossy().into_owned(),
        base.to_string_lossy().into_owned(),
    );
    assert_eq!(run(&["--write-baseline", &b, &p]).code, exit::OK);
    let text = std::fs::read_to_string(&base).unwrap();
    assert!(text.contains("per_call"), "{text}");
    assert_eq!(run(&["--baseline", &b, &p]).code, exit::OK);
    // Moved down a line: still accepted.
    std::fs::write(dir.path().join("src/a.py"), format!("\n{LEAK}")).unwrap();
    assert_eq!(run(&["--baseline", &b, &p]).code, exit::OK);
    // Changed: not.
    std::fs::write(
        dir.path().join("src/a.py"),
        LEAK.replace("ClientSession()", "ClientSession(timeout=t)"),
    )
    .unwrap();
    assert_eq!(run(&["--baseline", &b, &p]).code, exit::POLICY);
}

#[test]
fn the_walk_skips_ignored_and_hidden_files_and_takes_globs() {
    let dir = tree(&[
        (".git/HEAD", "ref: refs/heads/main\n"),
        (".gitignore", "build/\n"),
        ("app/a.py", LEAK),
        ("build/b.py", LEAK),
        (".venv/c.py", LEAK),
        ("tests/d.py", LEAK),
        ("notes.txt", LEAK),
    ]);
    let p = dir.path().to_str().unwrap();
    let files = |args: &[&str]| -> Vec<String> {
        let mut a = args.to_vec();
        a.push(p);
        let v = json_of(&a);
        let mut f: Vec<String> = v["constructions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                Path::new(c["file"].as_str().unwrap())
                    .strip_prefix(p)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        f.sort();
        f
    };
    assert_eq!(files(&[]), ["app/a.py", "tests/d.py"]);
    assert_eq!(
        files(&["--hidden"]),
        [".venv/c.py", "app/a.py", "tests/d.py"]
    );
    assert_eq!(
        files(&["--no-ignore"]),
        ["app/a.py", "build/b.py", "tests/d.py"]
    );
    // Globs are matched as ripgrep matches them (relative to the working directory).
    assert_eq!(files(&["--glob", "!**/tests/**"]), ["app/a.py"]);
    assert_eq!(files(&["--glob", "**/app/*.py"]), ["app/a.py"]);
    // A file named on the command line is audited whatever its name.
    let named = dir.path().join("notes.txt");
    let v = json_of(&[named.to_str().unwrap()]);
    assert_eq!(v["constructions"].as_array().unwrap().len(), 1);
}

#[test]
fn a_missing_path_and_a_syntax_error_are_said_on_err() {
    let dir = tree(&[
        (
            "bad.py",
            "import aiohttp\ndef f(:\n    s = aiohttp.ClientSession()\n",
        ),
        ("good.py", FINE),
    ]);
    let p = dir.path().to_str().unwrap();
    let r = run(&["--format", "json", p, "/nonexistent/unclosed-audit"]);
    assert_eq!(r.code, exit::ERROR);
    assert!(r.err.contains("/nonexistent/unclosed-audit"), "{}", r.err);
    assert!(r.err.contains("bad.py:2:"), "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["files"]["parse_errors"], 1);
    assert_eq!(v["files"]["scanned"], 2);
    assert_eq!(v["totals"]["unknown"], 1, "{v:#}");
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let dir = tree(&[("a.py", LEAK)]);
    let p = dir.path().to_str().unwrap();
    let term = Env {
        stdout_terminal: true,
        ..Env::default()
    };
    assert!(
        run_with(term.clone(), &[p])
            .out
            .contains("\x1b[1;31mper_call")
    );
    assert!(!run(&[p]).out.contains('\x1b'));
    let no = Env {
        no_color: Some("1".into()),
        ..term
    };
    assert!(!run_with(no, &[p]).out.contains('\x1b'));
}

/// A path with a terminal escape, a newline, and what annotations and URIs give a meaning.
const HOSTILE: &str = "x\u{1b}[31m,y:z%\nw #1.py";

#[test]
fn hostile_paths_are_escaped_in_every_format_and_sarif_validates() {
    let dir = tree(&[(HOSTILE, LEAK)]);
    let p = dir.path().to_str().unwrap();
    let text = run(&[p]).out;
    assert!(!text.contains('\x1b') && text.contains("\\u{1b}"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains(".py:4:")).count(),
        1,
        "{text}"
    );
    let env = Env {
        github_workspace: Some(p.to_owned()),
        ..Env::default()
    };
    let gh = run_with(env.clone(), &["--format", "github", p]).out;
    assert_eq!(gh.lines().count(), 1, "{gh}");
    assert!(
        gh.starts_with("::error file=x\\u{1b}[31m%2Cy%3Az%25\\u{a}w #1.py,line=4,col="),
        "{gh}"
    );
    let sarif: Value = serde_json::from_str(&run_with(env, &["--format", "sarif", p]).out).unwrap();
    let loc = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(
        loc["artifactLocation"]["uri"],
        "x%1B%5B31m%2Cy%3Az%25%0Aw%20%231.py"
    );
    assert_eq!(loc["region"]["startLine"], 4);
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/sarif-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // The vendored schema's `language` pattern has a stray `]` (see tests/gate.rs).
    for def in ["run", "toolComponent"] {
        schema["definitions"][def]["properties"]["language"]["pattern"] =
            Value::from("^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}$");
    }
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{sarif:#}");
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "audit-per-call");
}

fn repo(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_log_confirms_the_constructions_its_findings_were_made_at() {
    // The programs that wrote the fixtures, audited with their logs: each site the truth
    // records is either a construction's line (confirmed with the site's counts) or listed
    // as unexplained (connection.py:25 is a raw connection, no construction).
    let fixtures = [
        "percall_debug_bare",
        "asyncio_run_debug",
        "list_shared_debug",
        "connection_debug_wdefault",
        "noise_basic_debug",
    ];
    let mut confirmed_sites = 0;
    let mut unexplained_sites = 0;
    for name in fixtures {
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(repo(&format!("samples/logs/{name}.truth.json"))).unwrap(),
        )
        .unwrap();
        let script = repo(truth["script"].as_str().unwrap());
        let log = repo(&format!("samples/logs/{name}.log"));
        let v = json_of(&["--fail-on", "none", "--log", &log, &script]);
        let list = v["constructions"].as_array().unwrap();
        for site in truth["sites"].as_array().unwrap() {
            let (path, line) = site["site"].as_str().unwrap().rsplit_once(':').unwrap();
            let line: u64 = line.parse().unwrap();
            let at: Vec<&Value> = list.iter().filter(|c| c["line"] == line).collect();
            if at.is_empty() {
                let u = v["unexplained"].as_array().unwrap();
                assert!(
                    u.iter().any(|u| u["file"] == path
                        && u["line"] == line
                        && u["findings"] == site["findings"]),
                    "{name}: {site} not listed: {u:?}"
                );
                unexplained_sites += 1;
                continue;
            }
            for c in at {
                let k = &c["confirmed"];
                assert_eq!(k["findings"], site["findings"], "{name}: {c}");
                assert_eq!(k["leak"], site["leak"], "{name}: {c}");
                assert_eq!(
                    k["pooled_connections"], site["pooled_connections"],
                    "{name}: {c}"
                );
                assert_eq!(k["log"], log.as_str());
            }
            confirmed_sites += 1;
        }
        // Nothing is confirmed that the truth does not name.
        for c in list.iter().filter(|c| !c["confirmed"].is_null()) {
            assert!(
                truth["sites"].as_array().unwrap().iter().any(|s| s["site"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!(":{}", c["line"]))),
                "{name}: {c}"
            );
        }
    }
    assert_eq!((confirmed_sites, unexplained_sites), (10, 1));
}
