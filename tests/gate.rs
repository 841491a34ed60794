//! The CI gate: `check` exit statuses and baselines across envelopes, the CI report formats,
//! and `unclosed run` on real programs using real aiohttp (installed by `.ci/run`).

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn unclosed() -> Command {
    let mut c = Command::cargo_bin("unclosed").unwrap();
    c.timeout(Duration::from_secs(120))
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_WORKSPACE");
    c
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/logs")
        .join(name)
}

#[test]
fn check_exits_1_on_a_leak_0_on_noise_or_nothing_2_on_a_missing_file() {
    for (log, code, says) in [
        (sample("percall_debug_bare.log"), 1, "FAILED"),
        (sample("noise_basic_debug.log"), 0, "PASSED"),
        (sample("correct_code.log"), 0, ""),
    ] {
        unclosed()
            .arg("check")
            .arg(&log)
            .assert()
            .code(code)
            .stdout(predicate::str::contains(says));
    }
    unclosed()
        .args(["check", "no/such.log"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such.log"));
    // The policy decides: noise fails when asked to, leaks pass within a budget.
    let check = |args: &[&str], log: &str| {
        unclosed()
            .arg("check")
            .args(args)
            .arg(sample(log))
            .assert()
            .get_output()
            .status
            .code()
    };
    assert_eq!(
        check(&["--fail-on", "noise"], "noise_basic_debug.log"),
        Some(1)
    );
    let budget = |n: &str| {
        check(
            &["--fail-on", "unknown", "--max-pooled-connections", n],
            "percall_debug_bare.log",
        )
    };
    assert_eq!(budget("15"), Some(0));
    assert_eq!(budget("14"), Some(1));
}

/// Wraps each line of a real log the way an envelope would (hand-made wrapping, real lines).
fn wrap(text: &str, envelope: &str) -> String {
    let mut out = String::new();
    for l in text.lines() {
        match envelope {
            "cri" => out.push_str(&format!("2026-11-23T22:27:48.367084394Z stderr F {l}\n")),
            "docker-timestamps" => out.push_str(&format!("2026-11-23T22:27:48.367084394Z {l}\n")),
            "docker-json" => {
                out.push_str(&serde_json::json!({"log": format!("{l}\n"), "stream": "stderr", "time": "2026-11-23T22:27:48.3Z"}).to_string());
                out.push('\n');
            }
            "pm2" => out.push_str(&format!("0|api  | {l}\n")),
            "heroku" => out.push_str(&format!(
                "2026-11-23T22:27:48.367084+00:00 app[web.1]: {l}\n"
            )),
            _ => out.push_str(&format!("{l}\n")),
        }
    }
    out
}

#[test]
fn a_baseline_passes_its_own_sites_in_every_envelope_and_fails_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.txt");
    unclosed()
        .args(["check", "--write-baseline"])
        .arg(&baseline)
        .arg(sample("percall_debug_bare.log"))
        .assert()
        .code(0);
    let text = std::fs::read_to_string(&baseline).unwrap();
    assert!(
        text.contains("# leak at app/percall.py:26 in fetch_price"),
        "{text}"
    );

    // The same program's real logs through other envelopes (asyncio debug mode, so sites).
    for f in [
        "percall_cri.log",
        "percall_docker_timestamps.log",
        "percall_journald_short.log",
        "percall_journald_short_iso.log",
        "percall_journald_json.log",
        "percall_json_logger.log",
        "percall_structlog.log",
        "percall_loguru.log",
        "percall_pm2.log",
        "percall_heroku.log.gz",
        "percall_uvloop_debug.log",
        "percall_wdefault_debug.log",
    ] {
        unclosed()
            .args(["check", "--baseline"])
            .arg(&baseline)
            .arg(sample(f))
            .assert()
            .code(0)
            .stdout(predicate::str::contains("PASSED"));
    }
    // A new leaking site, through each envelope, fails.
    let new_site = std::fs::read_to_string(sample("asyncio_run_debug.log")).unwrap();
    for envelope in [
        "bare",
        "cri",
        "docker-timestamps",
        "docker-json",
        "pm2",
        "heroku",
    ] {
        unclosed()
            .args(["check", "--baseline"])
            .arg(&baseline)
            .write_stdin(wrap(&new_site, envelope))
            .assert()
            .code(1)
            .stdout(predicate::str::contains("asyncio_run.py:21"));
    }
    // And the baseline's own sites, gone from this log, are reported as stale.
    unclosed()
        .args(["check", "-f", "json", "--baseline"])
        .arg(&baseline)
        .arg(sample("asyncio_run_debug.log"))
        .assert()
        .code(1)
        .stdout(predicate::function(|out: &str| {
            let v: Value = serde_json::from_str(out).unwrap();
            v["verdict"]["stale_baseline_entries"]
                .as_array()
                .unwrap()
                .len()
                == 2
                && v["verdict"]["failed"] == true
        }));
}

#[test]
fn a_baseline_with_a_bad_line_is_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b.txt");
    std::fs::write(&b, "# fine\nnonsense here\n").unwrap();
    unclosed()
        .args(["check", "--baseline"])
        .arg(&b)
        .arg(sample("correct_code.log"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("b.txt: line 2"));
}

#[test]
fn junit_is_xml_with_one_failure_per_failing_site() {
    let out = unclosed()
        .args(["check", "-f", "junit"])
        .arg(sample("percall_debug_bare.log"))
        .arg(sample("noise_basic_debug.log"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let failures = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    assert_eq!(cases.len(), 6, "2 leaking sites and 4 noise sites");
    assert_eq!(failures, 2);
}

const HOSTILE: &str = "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7f>
source_traceback: Object created at (most recent call last):
  File \"/app/we,ird::dir%0A/x.py\", line 3, in f::error::pwned%0A
    s = aiohttp.ClientSession() # ::error file=x::injected, 100%
Unclosed connector
connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1>, 1.0)])']
connector: <aiohttp.connector.TCPConnector object at 0x7f2>
";

#[test]
fn github_annotations_stay_inert_whatever_the_log_says() {
    let out = unclosed()
        .args(["check", "-f", "github"])
        .write_stdin(HOSTILE)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one annotation, no injected line: {text}");
    let l = lines[0];
    assert!(
        l.starts_with("::error file=/app/we%2Cird%3A%3Adir%250A/x.py,line=3,title="),
        "{l}"
    );
    // The log's `%0A` must not decode to a newline: it comes out as `%250A`. A `::` inside
    // the message is inert (commands start a line, and there is only one line).
    assert!(l.contains("in f::error::pwned%250A: 1 finding"), "{l}");
    assert!(l.contains("dir%250A/x.py:3"), "{l}");
    assert!(!l.contains("%0A"), "{l}");
}

#[test]
fn github_annotations_are_capped_and_relative_to_the_workspace() {
    let mut log = String::new();
    for i in 0..15 {
        log.push_str(&format!("Unclosed client session\nclient_session: <x>\nsource_traceback: Object created at (most recent call last):\n  File \"/ws/app/m{i}.py\", line {i}, in f\nUnclosed connector\nconnections: ['[(<p>, 1.0)]']\nconnector: <c>\nINFO x\n"));
    }
    let out = unclosed()
        .args(["check", "-f", "github"])
        .env("GITHUB_WORKSPACE", "/ws")
        .write_stdin(log)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("::error ")).count(),
        10
    );
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("::notice title=unclosed::5 more call sites")
    );
    assert!(text.contains("::error file=app/m"), "{text}");
}

#[test]
fn markdown_is_escaped_and_output_goes_to_a_file_with_the_table_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("summary.md");
    unclosed()
        .args(["check", "-f", "markdown", "--output"])
        .arg(&md)
        .write_stdin(HOSTILE)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Call site").and(predicate::str::contains("FAILED")));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("## unclosed"));
    assert!(text.contains("**Failed**"));
    assert!(!text.contains("we,ird::"), "log text is escaped: {text}");
    assert!(text.len() < 1 << 20);
}

/// The Python with aiohttp that `.ci/run` installs (or `UNCLOSED_TEST_PYTHON`).
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("UNCLOSED_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    let ok = p.exists()
        && StdCommand::new(&p)
            .args(["-c", "import aiohttp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "these tests run real aiohttp: no Python with aiohttp at {}. Run `bash .ci/run`, or \
         `python3 -m venv .venv-test && .venv-test/bin/pip install aiohttp`, or set UNCLOSED_TEST_PYTHON.",
        p.display()
    );
    p
}

fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(name)
}

#[test]
fn run_shows_the_program_output_unchanged_then_its_leaking_site_and_exits_1() {
    let out = unclosed()
        .args(["run", "--"])
        .arg(python())
        .arg(program("leaky.py"))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("call 0: ok\ncall 1: ok\ncall 2: ok\ndone\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tests/programs/leaky.py:14 in fetch"),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 leaks holding 3 pooled connections"),
        "{stdout}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("Unclosed connector"),
        "the program's stderr passes through: {stderr}"
    );
}

#[test]
fn run_of_a_correct_program_exits_0_and_a_failing_one_keeps_its_status() {
    unclosed()
        .args(["run", "--"])
        .arg(python())
        .arg(program("correct.py"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("PASSED"));
    unclosed()
        .args(["run", "-f", "json", "--"])
        .arg(python())
        .arg(program("failing.py"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("giving up"))
        // A document never lands in the command's stdout.
        .stderr(predicate::str::contains("\"leak\": 1"))
        .stdout(predicate::str::contains("\"schema\"").not());
}

#[test]
fn run_passes_sigterm_to_the_command_and_keeps_its_exit_status() {
    let py = python();
    let script = "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: (print('got TERM', flush=True), sys.exit(5)))\nprint('ready', flush=True)\ntime.sleep(60)\n";
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("unclosed"))
        .args(["run", "--"])
        .arg(&py)
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    assert!(
        StdCommand::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.starts_with("got TERM\n"), "{rest}");
    assert_eq!(child.wait().unwrap().code(), Some(5));
}

#[test]
fn run_kills_the_command_at_a_second_signal_and_says_so() {
    let py = python();
    // A command that takes SIGTERM and goes on.
    let script = "import signal, time\nsignal.signal(signal.SIGTERM, lambda *a: print('got TERM', flush=True))\nprint('ready', flush=True)\ntime.sleep(60)\n";
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("unclosed"))
        .args(["run", "--"])
        .arg(&py)
        .args(["-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let term = || {
        assert!(
            StdCommand::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        )
    };
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    term();
    line.clear();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line, "got TERM\n");
    term();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(128 + 9));
    assert!(
        err.contains("unclosed: a second signal: killing the command\n"),
        "{err}"
    );
    assert!(err.contains("killed by signal 9"), "{err}");
}

/// The command signals `unclosed` at its first instruction, before `run` could have set up
/// anything after starting it: the signal is passed on (the command dies of it) and the
/// report still comes, every time. Before the handlers were installed ahead of the command's
/// start, 2 runs in 5 were killed outright, without a report.
#[test]
fn run_passes_on_a_signal_that_comes_as_the_command_starts() {
    for _ in 0..5 {
        let out = StdCommand::new(assert_cmd::cargo::cargo_bin("unclosed"))
            .args(["run", "--", "sh", "-c", "kill -TERM $PPID; exec sleep 30"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(128 + 15), "{stderr}");
        assert!(
            stdout.contains("No aiohttp garbage-collection warnings"),
            "the report: {stdout}{stderr}"
        );
        assert!(stderr.contains("killed by signal 15"), "{stderr}");
    }
}

#[test]
fn run_of_a_command_that_does_not_exist_is_exit_2() {
    unclosed()
        .args(["run", "--", "no-such-command-xyz"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot start no-such-command-xyz"));
}

#[test]
fn run_under_pytest_names_the_test_and_pairs_connectors_printed_at_exit() {
    let dir = program("pytest_suite");
    let out = unclosed()
        .current_dir(&dir)
        // A plugin working for a second after the summary: the sessions still wait for the
        // connectors collected at exit (the default --flush-ms is 400 ms).
        .env("SLOW_EXIT", "1")
        .args(["run", "-f", "json", "--"])
        .arg(python())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_prices.py",
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("1 failed, 1 passed"), "{stdout}");
    assert!(
        !stdout.contains("\"schema\""),
        "the report is not in pytest's stdout"
    );
    let text = String::from_utf8(out.stderr).unwrap();
    // The report follows the command's own stderr.
    let at = text
        .rfind("{\n  \"schema\"")
        .expect("the JSON report after the command's stderr");
    let v: Value = serde_json::from_str(&text[at..]).unwrap();
    // Sessions show in pytest's captured log (stdout), their connectors at exit (stderr).
    assert_eq!(v["totals"]["leak"], 1, "{}", v["totals"]);
    assert_eq!(v["totals"]["noise"], 0, "{}", v["totals"]);
    let site = &v["sites"][0];
    assert!(
        site["site"]
            .as_str()
            .unwrap()
            .ends_with("test_prices.py:15"),
        "{site}"
    );
    assert_eq!(site["pattern"], "asyncio.run() per call");
    // Its failure section names it `test_price_is_cached`; the report by its id.
    assert_eq!(
        site["parts"],
        serde_json::json!(["test_prices.py::test_price_is_cached"])
    );
}

/// `unclosed run -f json -- python -m pytest ARGS` in tests/programs/pytest_suite: pytest's
/// stdout and the JSON report.
fn run_pytest(args: &[&str], code: i32) -> (String, Value) {
    let out = unclosed()
        .current_dir(program("pytest_suite"))
        .args(["run", "-f", "json", "--"])
        .arg(python())
        .args(["-m", "pytest", "-p", "no:cacheprovider"])
        .args(args)
        .assert()
        .code(code)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stderr).unwrap();
    let at = text
        .rfind("{\n  \"schema\"")
        .expect("the JSON report after the command's stderr");
    (
        String::from_utf8(out.stdout).unwrap(),
        serde_json::from_str(&text[at..]).unwrap(),
    )
}

/// What a pytest_suite module says it leaks: its `TRUTH` JSON object, and the line that
/// creates each test's sessions (marked `# sessions of TEST, TEST`).
fn suite_truth(module: &str) -> (Value, Vec<(String, usize)>) {
    let src = std::fs::read_to_string(program("pytest_suite").join(module)).unwrap();
    let from = src.find("TRUTH = json.loads(").unwrap();
    let open = from + src[from..].find('{').unwrap();
    let mut depth = 0;
    let close = open
        + src[open..]
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .unwrap()
            .0;
    let truth = serde_json::from_str(&src[open..=close]).unwrap();
    let mut lines = Vec::new();
    for (n, l) in src.lines().enumerate() {
        if let Some((_, tests)) = l.split_once("# sessions of ") {
            for t in tests.split(", ") {
                lines.push((t.trim().to_string(), n + 1));
            }
        }
    }
    (truth, lines)
}

/// The report's site for the line that creates `test`'s sessions.
fn site_of<'v>(
    v: &'v Value,
    module: &str,
    lines: &[(String, usize)],
    test: &str,
) -> Option<&'v Value> {
    let line = lines.iter().find(|(t, _)| t == test).unwrap().1;
    v["sites"].as_array().unwrap().iter().find(|s| {
        s["site"]
            .as_str()
            .is_some_and(|x| x.ends_with(&format!("/{module}:{line}")))
    })
}

/// Every part is a test id, and no site names one twice.
fn parts_are_ids_once(v: &Value) {
    for s in v["sites"].as_array().unwrap() {
        let parts: Vec<&str> = s["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        for p in &parts {
            assert!(p.contains("::"), "{p} in {s}");
            assert_eq!(parts.iter().filter(|q| *q == p).count(), 1, "{s}");
        }
    }
}

#[test]
fn run_under_pytest_without_its_warnings_plugin_counts_each_object_once() {
    // With `-p no:warnings` a test's ResourceWarnings go to its captured stderr and its
    // asyncio records to its captured log: a report shows both sections, the same objects.
    let (truth, lines) = suite_truth("test_sessions.py");
    let n = |t: &str, k: &str| truth[t][k].as_u64().unwrap();
    let every = [
        "test_five_sessions",
        "test_idle_session",
        "test_two_sessions_then_fails",
    ];
    for (args, shown) in [
        (&["-p", "no:warnings"][..], &every[2..]),
        (&["-p", "no:warnings", "-rA"][..], &every[..]),
    ] {
        let (stdout, v) = run_pytest(&[args, &["-q", "test_sessions.py"]].concat(), 1);
        assert!(stdout.contains("1 failed, 3 passed"), "{stdout}");
        assert!(stdout.contains("Captured stderr call"), "{stdout}");
        parts_are_ids_once(&v);
        for test in shown {
            let site = site_of(&v, "test_sessions.py", &lines, test).expect(test);
            let sessions = n(test, "sessions");
            assert_eq!(site["sessions"], sessions, "{args:?}: {site}");
            assert_eq!(site["findings"], sessions, "{args:?}: {site}");
            assert_eq!(
                site["pooled_connections"],
                sessions * n(test, "pooled_each"),
                "{args:?}: {site}"
            );
            assert_eq!(
                site["parts"],
                serde_json::json!([format!("test_sessions.py::{test}")]),
                "{args:?}"
            );
        }
        let sessions: u64 = shown.iter().map(|t| n(t, "sessions")).sum();
        assert_eq!(v["totals"]["sessions"], sessions, "{args:?}: {v}");
        assert_eq!(v["totals"]["unknown"], 0, "{args:?}: {v}");
    }
}

#[test]
fn run_under_pytest_never_calls_idle_a_session_let_go_before_its_connector_came() {
    // More sessions shown before the exit than run holds for their connectors (collected at
    // exit): those let go are `unknown`, never `noise`: each held a pooled connection.
    let (truth, _) = suite_truth("test_many_sessions.py");
    let test = &truth["test_forty_sessions_then_fails"];
    let sessions = test["sessions"].as_u64().unwrap();
    let (stdout, v) = run_pytest(&["-q", "test_many_sessions.py"], 1);
    assert!(stdout.contains("1 failed"), "{stdout}");
    let t = &v["totals"];
    assert_eq!(t["sessions"], sessions, "{t}");
    assert_eq!(t["connectors"], sessions, "{t}");
    assert_eq!(
        t["pooled_connections"],
        sessions * test["pooled_each"].as_u64().unwrap()
    );
    assert_eq!(t["noise"], 0, "no session is idle: {t}");
    assert!(t["unknown"].as_u64().unwrap() > 0, "some were let go: {t}");
    assert_eq!(
        t["leak"].as_u64().unwrap() + t["unknown"].as_u64().unwrap(),
        t["findings"].as_u64().unwrap(),
        "{t}"
    );
}

#[test]
fn run_under_pytest_names_a_test_only_where_it_printed_and_notes_what_the_summary_hid() {
    let (truth, lines) = suite_truth("test_sessions.py");
    let n = |t: &str, k: &str| truth[t][k].as_u64().unwrap();
    for verbosity in ["-q", "-v"] {
        let (stdout, v) = run_pytest(&[verbosity, "test_sessions.py"], 1);
        assert!(stdout.contains("1 failed, 3 passed"), "{stdout}");
        parts_are_ids_once(&v);
        // The failed test's section shows its sessions; their connectors come at exit.
        let two = site_of(
            &v,
            "test_sessions.py",
            &lines,
            "test_two_sessions_then_fails",
        )
        .expect("the failed test's site");
        let sessions = n("test_two_sessions_then_fails", "sessions");
        assert_eq!(two["findings"], sessions, "{verbosity}: {two}");
        assert_eq!(two["sessions"], sessions, "{verbosity}: {two}");
        assert_eq!(two["connectors"], sessions, "{verbosity}: {two}");
        assert_eq!(
            two["pooled_connections"],
            sessions * n("test_two_sessions_then_fails", "pooled_each")
        );
        assert_eq!(
            two["parts"],
            serde_json::json!(["test_sessions.py::test_two_sessions_then_fails"]),
            "{verbosity}: named once, by its id"
        );
        // A passing test's sessions show only in the warnings summary; their connectors,
        // collected at exit after every test ended, are counted under no test.
        let five = site_of(&v, "test_sessions.py", &lines, "test_five_sessions")
            .expect("the connectors of test_five_sessions");
        let sessions = n("test_five_sessions", "sessions");
        assert_eq!(five["connectors"], sessions, "{verbosity}: {five}");
        assert_eq!(
            five["pooled_connections"],
            sessions * n("test_five_sessions", "pooled_each")
        );
        assert_eq!(five["sessions"], 0, "{verbosity}: {five}");
        assert_eq!(five["parts"], serde_json::json!([]), "{verbosity}: {five}");
        assert_eq!(
            five["pattern"], "asyncio.run() per call",
            "not a shared connector"
        );
        assert!(site_of(&v, "test_sessions.py", &lines, "test_idle_session").is_none());
        assert_eq!(
            v["totals"]["sessions"],
            n("test_two_sessions_then_fails", "sessions")
        );
        // What the summary listed and the report could not count, said.
        let notes = v["notes"].as_array().unwrap();
        assert_eq!(notes.len(), 1, "{verbosity}: {notes:?}");
        let note = notes[0].as_str().unwrap();
        let hidden = n("test_five_sessions", "sessions") + n("test_idle_session", "sessions");
        for says in [
            format!("lists {hidden} unclosed client sessions not read elsewhere"),
            format!(
                "{} under test_sessions.py::test_five_sessions",
                n("test_five_sessions", "sessions")
            ),
            format!(
                "{} under test_sessions.py::test_idle_session",
                n("test_idle_session", "sessions")
            ),
        ] {
            assert!(note.contains(&says), "{verbosity}: {says}: {note}");
        }
        assert!(!note.contains("test_two_sessions_then_fails"), "{note}");
    }
}

#[test]
fn run_under_pytest_reads_every_tests_records_with_ra_or_live_logs_and_counts_each_once() {
    let (truth, lines) = suite_truth("test_sessions.py");
    for args in [
        &["-q", "-rA", "test_sessions.py"][..],
        &["-v", "--log-cli-level=ERROR", "test_sessions.py"][..],
    ] {
        let (_, v) = run_pytest(args, 1);
        parts_are_ids_once(&v);
        let mut total = 0;
        for (test, t) in truth.as_object().unwrap() {
            let sessions = t["sessions"].as_u64().unwrap();
            total += sessions;
            if sessions == 0 {
                continue;
            }
            let pooled = t["pooled_each"].as_u64().unwrap();
            let site = site_of(&v, "test_sessions.py", &lines, test)
                .unwrap_or_else(|| panic!("{args:?}: no site for {test}: {v}"));
            assert_eq!(site["findings"], sessions, "{args:?}: {site}");
            assert_eq!(site["sessions"], sessions, "{args:?}: {site}");
            let connectors = if pooled > 0 { sessions } else { 0 };
            assert_eq!(site["connectors"], connectors, "{args:?}: {site}");
            assert_eq!(
                site["pooled_connections"],
                sessions * pooled,
                "{args:?}: {site}"
            );
            assert_eq!(
                site["parts"],
                serde_json::json!([format!("test_sessions.py::{test}")]),
                "{args:?}"
            );
        }
        assert_eq!(v["totals"]["sessions"], total, "{args:?}");
        assert_eq!(v["notes"], serde_json::json!([]), "{args:?}");
    }
}

#[test]
fn run_under_pytest_notes_sessions_the_warnings_summary_folded() {
    let (truth, lines) = suite_truth("test_clients.py");
    let tests = |t: &str| truth[t]["tests"].as_u64().unwrap();
    let (stdout, v) = run_pytest(&["-q", "test_clients.py"], 0);
    let many = tests("test_many");
    assert!(
        stdout.contains(&format!("test_clients.py: {many} warnings")),
        "{stdout}"
    );
    assert_eq!(v["totals"]["findings"], 0);
    let notes = v["notes"].as_array().unwrap();
    let note = notes[0].as_str().unwrap();
    for says in [
        format!(
            "lists {} unclosed client sessions",
            many + tests("test_few")
        ),
        format!("{many} in an entry folded as `test_clients.py: N warnings`"),
        "1 under test_clients.py::test_few[0]".to_string(),
        "1 under test_clients.py::test_few[2]".to_string(),
    ] {
        assert!(note.contains(&says), "{says}: {note}");
    }
    // Shown by -rA, each is read under its test, and the note goes.
    let (_, v) = run_pytest(&["-q", "-rA", "test_clients.py"], 0);
    let site = site_of(&v, "test_clients.py", &lines, "test_many").unwrap();
    assert_eq!(site["sessions"], many + tests("test_few"));
    assert_eq!(site["noise"], many + tests("test_few"));
    assert_eq!(v["notes"], serde_json::json!([]));
}

#[test]
fn sarif_has_a_result_per_site_outside_the_baseline_with_rules_and_locations() {
    let out = unclosed()
        .args(["check", "-f", "sarif"])
        .env("GITHUB_WORKSPACE", "/app")
        .arg(sample("percall_debug_bare.log"))
        .arg(sample("noise_basic_debug.log"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 6, "2 leaking sites and 4 noise sites");
    assert_eq!(results.iter().filter(|r| r["level"] == "error").count(), 2);
    let uri = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert_eq!(uri, "percall.py", "relative to the workspace");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for r in results {
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()), "{r}");
    }
}

#[test]
fn run_and_check_keep_their_exit_status_when_their_output_is_cut_short() {
    let bin = assert_cmd::cargo::cargo_bin("unclosed");
    let run = format!(
        "'{}' run -- sh -c 'echo hi; echo more; exit 3' | head -1; exit ${{PIPESTATUS[0]}}",
        bin.display()
    );
    assert_eq!(
        StdCommand::new("bash")
            .args(["-c", &run])
            .output()
            .unwrap()
            .status
            .code(),
        Some(3)
    );
    let check = format!(
        "'{}' check -f json '{}' | head -c 10; exit ${{PIPESTATUS[0]}}",
        bin.display(),
        sample("percall_debug_bare.log").display()
    );
    assert_eq!(
        StdCommand::new("bash")
            .args(["-c", &check])
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
}

/// A session block created at `path`, in `func`, as asyncio's debug mode prints it, and its
/// connector holding one connection.
fn block_at(path: &str, func: &str) -> String {
    format!(
        "Unclosed client session\nclient_session: <aiohttp.client.ClientSession object at 0x7f>\n\
         source_traceback: Object created at (most recent call last):\n  File \"{path}\", line 7, in {func}\n    \
         s = aiohttp.ClientSession()\nUnclosed connector\n\
         connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1>, 1.0)])']\n\
         connector: <aiohttp.connector.TCPConnector object at 0x7f2>\n"
    )
}

/// Paths the way Python prints them, with what a URI must encode (hand-written).
const HOSTILE_PATHS: [&str; 12] = [
    "/app/dir with space/x.py",
    "/app/hash#1.py",
    "/app/what?.py",
    "/app/100%.py",
    "/app/naïve/日本.py",
    "/app/a&b=c;d.py",
    "/app/[brackets]/{braces}.py",
    "/app/quote\"s'.py",
    "/srv/other root/x.py",
    "C:\\Users\\Dev User\\app\\main.py",
    "relative dir/mod.py",
    "/app/<angle>|pipe^.py",
];

/// `check -f FORMAT` of `log` on stdin, which must exit with `code`: its stdout as text.
fn check_stdin(format: &str, log: &str, code: i32, workspace: Option<&str>) -> String {
    let mut c = unclosed();
    if let Some(w) = workspace {
        c.env("GITHUB_WORKSPACE", w);
    }
    let out = c
        .args(["check", "-f", format])
        .write_stdin(log)
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

fn sarif_of(log: &str, workspace: &str) -> Value {
    serde_json::from_str(&check_stdin("sarif", log, 1, Some(workspace))).unwrap()
}

#[test]
fn sarif_validates_against_the_schema_with_a_location_and_a_uri_for_every_result() {
    let mut log: String = HOSTILE_PATHS
        .iter()
        .enumerate()
        .map(|(i, p)| block_at(p, &format!("f{i}\u{FFFE}")))
        .collect();
    // A leak without a creation traceback: no call site, located at the log's line.
    log.push_str("INFO ok\nUnclosed connector\nconnections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f3>, 2.0)])']\nconnector: <aiohttp.connector.TCPConnector object at 0x7f4>\n");
    let sarif = sarif_of(&log, "/app");

    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/sarif-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // The schema's own patterns for `language` (on runs and tool components) have a stray `]`
    // that a strict ECMA-262 regex (as the validator checks a schema's formats) refuses; no
    // report of ours has a `language`.
    for def in ["run", "toolComponent"] {
        let language = &mut schema["definitions"][def]["properties"]["language"]["pattern"];
        assert_eq!(language, "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$");
        *language = Value::from("^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}$");
    }
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}\n{sarif:#}", errors.join("\n"));

    // GitHub's upload requirements beyond the schema: every result located, its rule
    // declared, relative URIs resolved against a file:// base.
    let run = &sarif["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["fullDescription"]["text"].is_string(), "{r}");
            r["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"],
        "file:///app/"
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), HOSTILE_PATHS.len() + 1);
    let mut decoded = Vec::new();
    for r in results {
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()), "{r}");
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1, "{r}");
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(
            uri.bytes()
                .all(|b| b.is_ascii_graphic() && !b"\"<>\\^`{|}#?[] ".contains(&b) || b == b'%'),
            "not a URI: {uri}"
        );
        let path = percent_encoding::percent_decode_str(uri)
            .decode_utf8()
            .unwrap()
            .into_owned();
        match loc["artifactLocation"]["uriBaseId"].as_str() {
            Some("%SRCROOT%") => assert!(!uri.starts_with("file:"), "{uri}"),
            None => assert!(uri.starts_with("file:///"), "{uri}"),
            other => panic!("{other:?}"),
        }
        decoded.push(path);
    }
    for p in HOSTILE_PATHS {
        let want = match p.strip_prefix("/app/") {
            Some(rel) => rel.to_owned(),
            None if p.starts_with('/') => format!("file://{p}"),
            None if p.starts_with("C:") => format!("file:///{}", p.replace('\\', "/")),
            None => p.to_owned(),
        };
        assert!(decoded.contains(&want), "{want} not in {decoded:?}");
    }
    assert!(
        decoded.contains(&"<stdin>".to_owned()),
        "no-site finding at the log: {decoded:?}"
    );
}

#[test]
fn junit_is_xml_whatever_the_log_holds_and_has_a_case_when_nothing_was_found() {
    let log: String = [
        "/app/x\u{FFFE}.py",
        "/app/y\u{FFFF}\u{1b}[31m.py",
        "/app/<&>.py",
    ]
    .iter()
    .map(|p| block_at(p, "f\u{FFFF}"))
    .collect();
    let text = check_stdin("junit", &log, 1, None);
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let failures = doc.descendants().filter(|n| n.has_tag_name("failure"));
    assert_eq!(failures.count(), 3);

    let text = check_stdin("junit", "INFO nothing to see\n", 0, None);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1, "{text}");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count(),
        0
    );
}

#[test]
fn run_ends_when_the_command_ends_though_a_process_it_left_keeps_writing() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("writer.pid");
    let script = format!(
        "(while :; do echo tick; sleep 0.05; done) & echo $! > '{}'; echo started; exit 0",
        pidfile.display()
    );
    let started = std::time::Instant::now();
    let out = unclosed()
        .timeout(Duration::from_secs(30))
        .args(["run", "--", "sh", "-c", &script])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let elapsed = started.elapsed();
    if let Ok(pid) = std::fs::read_to_string(&pidfile) {
        let _ = StdCommand::new("kill").arg(pid.trim()).status();
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("started\n"));
    // Not a timing test: only that it ended at all, well before the guard.
    assert!(elapsed < Duration::from_secs(25), "{elapsed:?}");
}
