//! The binary as a user runs it: exit statuses, messages, formats, and bad input.
//! Warning texts are real aiohttp output (docs/formats.md); the damage is hand-made.

use std::io::{Read, Write};
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const LEAK: &str = "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>
Unclosed connector
connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2ba0>, 2092.40), (<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2970>, 2092.40)])']
connector: <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>
";

const NOISE: &str = "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>
";

/// The binary, with a hang guard: a test that hangs fails instead of stalling CI.
fn unclosed() -> Command {
    let mut c = Command::cargo_bin("unclosed").unwrap();
    c.timeout(Duration::from_secs(120)).env_remove("NO_COLOR");
    c
}

/// `scan -f json` of `input` on standard input, which must succeed: its stdout.
fn scan_stdin(input: impl Into<Vec<u8>>) -> Vec<u8> {
    unclosed()
        .args(["scan", "-f", "json"])
        .write_stdin(input.into())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

fn json_of(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap()
}

#[test]
fn help_names_the_commands_formats_and_how_to_get_call_sites() {
    unclosed()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("scan"));
    unclosed()
        .args(["scan", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--format")
                .and(predicate::str::contains("PYTHONASYNCIODEBUG=1")),
        )
        .stdout(predicate::str::contains("Exit status"));
}

#[test]
fn missing_file_is_exit_2_naming_the_file() {
    unclosed()
        .args(["scan", "no/such/file.log"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("no/such/file.log")
                .and(predicate::str::contains("No such file")),
        );
}

#[test]
fn a_missing_file_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.log");
    std::fs::write(&good, LEAK).unwrap();
    let out = unclosed()
        .args(["scan", "-f", "json", "missing.log", good.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.log"))
        .get_output()
        .stdout
        .clone();
    assert_eq!(json_of(&out)["totals"]["leak"], 1);
}

#[test]
fn usage_errors_are_exit_2() {
    unclosed()
        .args(["scan", "--format", "xml"])
        .assert()
        .code(2);
    unclosed()
        .args(["scan", "--grammar", "nope"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("known: cri"));
    unclosed().arg("frobnicate").assert().code(2);
    unclosed()
        .args(["scan", "--skip-frames", "a[b"])
        .write_stdin("")
        .assert()
        .code(2);
}

#[test]
fn a_grammar_file_that_fails_its_sample_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("mine.toml");
    std::fs::write(&g, "name = \"mine\"\nsummary = \"x\"\nkind = \"prefix\"\nregex = '^app\\| (?P<text>.*)$'\n[[sample]]\nline = \"web| x\"\ntext = [\"x\"]\n").unwrap();
    unclosed()
        .args(["scan", "--grammar-file", g.to_str().unwrap()])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("mine.toml").and(predicate::str::contains("sample 1")));
}

#[test]
fn a_grammar_file_adds_an_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("mine.toml");
    std::fs::write(&g, "name = \"mine\"\nsummary = \"x\"\nkind = \"prefix\"\nregex = '^app\\| (?P<text>.*)$'\n[[sample]]\nline = \"app| x\"\ntext = [\"x\"]\n").unwrap();
    let input: String = LEAK.lines().map(|l| format!("app| {l}\n")).collect();
    let out = unclosed()
        .args(["scan", "-f", "json", "--grammar-file", g.to_str().unwrap()])
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    assert_eq!(v["inputs"][0]["grammar"], "mine");
    assert_eq!(v["totals"]["pooled_connections"], 2);
    unclosed()
        .args(["grammars", "--grammar-file", g.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("mine"));
}

#[test]
fn table_explains_labels_totals_and_how_to_get_sites() {
    unclosed()
        .args(["scan"])
        .write_stdin(format!("{LEAK}INFO x\n{NOISE}"))
        .assert()
        .success()
        .stdout(predicate::str::contains("2 findings"))
        .stdout(predicate::str::contains(
            "1 leak holding 2 pooled connections, 1 noise, 0 unknown",
        ))
        .stdout(predicate::str::contains(
            "Labels:\n  leak     sockets were held",
        ))
        .stdout(predicate::str::contains("PYTHONASYNCIODEBUG=1"))
        .stdout(predicate::str::contains("\x1b[").not());
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    unclosed()
        .args(["scan", "--color", "always"])
        .write_stdin(LEAK)
        .assert()
        .stdout(predicate::str::contains("\x1b["));
    unclosed()
        .args(["scan", "--color", "never"])
        .write_stdin(LEAK)
        .assert()
        .stdout(predicate::str::contains("\x1b[").not());
    unclosed()
        .args(["scan"])
        .env("NO_COLOR", "1")
        .write_stdin(LEAK)
        .assert()
        .stdout(predicate::str::contains("\x1b[").not());
}

#[test]
fn ndjson_prints_findings_then_one_summary() {
    let out = unclosed()
        .args(["scan", "-f", "ndjson"])
        .write_stdin(format!("{LEAK}INFO x\n{NOISE}"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = lines.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["finding", "finding", "summary"]);
    assert_eq!(lines[0]["label"], "leak");
    assert_eq!(lines[0]["pooled_connections"], 2);
    assert_eq!(lines[0]["input"], "<stdin>");
    assert_eq!(lines[0]["input_line"], 1);
    assert_eq!(lines[1]["label"], "noise");
    assert_eq!(lines[2]["schema"], "unclosed/2");
}

#[test]
fn list_gives_each_finding_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("app.log");
    std::fs::write(&f, format!("{LEAK}INFO x\n{NOISE}")).unwrap();
    let shown = format!("{}:7: noise: session; no call site in the log", f.display());
    unclosed()
        .args(["scan", "-f", "list", f.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "{}:1: leak: session + connector, 2 pooled connections",
            f.display()
        )))
        .stdout(predicate::str::contains(shown));
}

#[test]
fn log_text_cannot_reach_the_terminal_raw() {
    let evil = "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7f>
source_traceback: Object created at (most recent call last):
  File \"/app/\x1b]0;pwned\x07\x07ev\u{202e}il.py\", line 3, in f\x1b[2J
    x = aiohttp.ClientSession()\r\x1b[31m
";
    for format in ["table", "list"] {
        let out = unclosed()
            .args(["scan", "-f", format, "--color", "never"])
            .write_stdin(evil)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains('\x1b')
                && !text.contains('\x07')
                && !text.contains('\r')
                && !text.contains('\u{202e}'),
            "{format}: {text:?}"
        );
        // Colour sequences are taken off before parsing; other controls are shown escaped.
        assert!(
            text.contains("\\u{7}"),
            "{format}: escapes are visible: {text}"
        );
    }
    let out = scan_stdin(evil);
    assert!(!out.contains(&0x1b));
    assert!(
        json_of(&out)["sites"][0]["file"]
            .as_str()
            .unwrap()
            .contains("\x07ev\u{202e}il"),
        "JSON keeps the text, escaped"
    );
}

fn many_sites(n: usize) -> String {
    (0..n)
        .map(|i| format!("{NOISE}source_traceback: Object created at (most recent call last):\n  File \"/app/x.py\", line {i}, in f\nINFO x\n"))
        .collect()
}

#[test]
fn broken_pipe_is_a_quiet_exit_in_every_format() {
    for format in ["list", "json", "ndjson", "table"] {
        broken_pipe_is_quiet(format);
    }
}

fn broken_pipe_is_quiet(format: &str) {
    let input = many_sites(5_000);
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("unclosed"))
        .args(["scan", "-f", format])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    writer.join().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{format}: stderr: {err}");
    assert_eq!(err, "", "{format}");
}

#[test]
fn max_line_bytes_applies_to_lines_joined_from_cri_pieces() {
    // Hand-made: a connector list of 30,000 entries (2.3 MB), split at 8 KiB the CRI-O way.
    let entries: Vec<String> = (0..30_000)
        .map(|i| {
            format!("(<aiohttp.client_proto.ResponseHandler object at 0x7f{i:010x}>, 2092.40)")
        })
        .collect();
    let conn = format!("connections: ['deque([{}])']", entries.join(", "));
    let mut log = String::from("2026-11-23T22:27:48Z stderr F Unclosed connector\n");
    let bytes = conn.as_bytes();
    let pieces: Vec<&[u8]> = bytes.chunks(8192).collect();
    for (i, p) in pieces.iter().enumerate() {
        let tag = if i + 1 == pieces.len() { "F" } else { "P" };
        log.push_str(&format!(
            "2026-11-23T22:27:48Z stderr {tag} {}\n",
            std::str::from_utf8(p).unwrap()
        ));
    }
    let out = unclosed()
        .args(["scan", "-f", "json", "--max-line-bytes", "10000000"])
        .write_stdin(log.clone())
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    assert_eq!(json_of(&out)["totals"]["pooled_connections"], 30_000);
    let out = unclosed()
        .args(["scan", "-f", "json"])
        .write_stdin(log)
        .assert()
        .success()
        .stderr(predicate::str::contains("longer than 1048576"))
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    assert!(v["totals"]["pooled_connections"].as_u64().unwrap() < 30_000);
    assert_eq!(v["totals"]["truncated"], 1);
}

#[test]
fn empty_input_is_a_clean_run() {
    unclosed()
        .arg("scan")
        .write_stdin("")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "No aiohttp garbage-collection warnings in 0 lines",
        ));
}

#[test]
fn random_bytes_do_not_panic_and_blocks_after_them_are_found() {
    // 10 MB from a fixed xorshift generator, then a real block.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(10 << 20);
    while data.len() < 10 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.extend_from_slice(b"\n");
    data.extend_from_slice(LEAK.as_bytes());
    let out = scan_stdin(data);
    let v = json_of(&out);
    assert!(v["totals"]["pooled_connections"].as_u64().unwrap() >= 2);
    assert!(v["totals"]["leak"].as_u64().unwrap() >= 1);
}

#[test]
fn nul_bytes_and_invalid_utf8_around_blocks() {
    let mut data = b"\x00\x00\xff\xfe\n".to_vec();
    data.extend_from_slice(LEAK.as_bytes());
    data.extend_from_slice(b"\x00\xc3\x28\n");
    let out = scan_stdin(data);
    assert_eq!(json_of(&out)["totals"]["pooled_connections"], 2);
}

#[test]
fn a_100_mb_line_without_newline_is_cut_within_bounded_memory() {
    // The address-space limit makes a reader that loads the line whole fail to allocate.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("huge.log");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&f).unwrap());
        w.write_all(LEAK.as_bytes()).unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..100 {
            w.write_all(&chunk).unwrap();
        }
    }
    let bin = assert_cmd::cargo::cargo_bin("unclosed");
    let script = format!(
        "ulimit -v 65536 && exec '{}' scan -f json '{}'",
        bin.display(),
        f.display()
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .timeout(Duration::from_secs(120))
        .assert()
        .success()
        .stderr(predicate::str::contains("1 line(s) longer than"))
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    assert_eq!(v["totals"]["pooled_connections"], 2);
    assert_eq!(v["inputs"][0]["cut_lines"], 1);
    assert_eq!(v["inputs"][0]["bytes"], LEAK.len() as u64 + (100 << 20));
}

#[test]
fn gzip_from_stdin_is_decoded() {
    use flate2::{Compression, write::GzEncoder};
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(LEAK.as_bytes()).unwrap();
    let out = scan_stdin(e.finish().unwrap());
    assert_eq!(json_of(&out)["totals"]["pooled_connections"], 2);
}

#[test]
fn corrupt_gzip_is_exit_2_and_keeps_what_was_read() {
    use flate2::{Compression, write::GzEncoder};
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    let mut body = LEAK.repeat(2000).into_bytes();
    body.extend(b"INFO tail\n");
    e.write_all(&body).unwrap();
    let mut gz = e.finish().unwrap();
    let n = gz.len();
    gz.truncate(n * 3 / 4);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cut.log.gz");
    std::fs::write(&f, gz).unwrap();
    let out = unclosed()
        .args(["scan", "-f", "json", f.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cut.log.gz").and(predicate::str::contains("read error")))
        .get_output()
        .stdout
        .clone();
    assert!(json_of(&out)["totals"]["leak"].as_u64().unwrap() > 100);
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_read() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join(std::ffi::OsStr::from_bytes(b"lat\xe9.log"));
    std::fs::write(&f, LEAK).unwrap();
    let out = unclosed()
        .arg("scan")
        .arg("-f")
        .arg("json")
        .arg(&f)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    assert_eq!(v["totals"]["leak"], 1);
    assert!(
        v["inputs"][0]["name"]
            .as_str()
            .unwrap()
            .ends_with("lat\u{fffd}.log")
    );
}

#[test]
fn a_header_in_a_form_not_read_is_said_and_fails_check() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("pasted.log");
    // A record in a logfmt shape no grammar reads, and prose that is no header.
    std::fs::write(
        &log,
        "INFO start\nlevel=error msg=\"Unclosed client session|client_session=<aiohttp.client.ClientSession object at 0x7f>\"\nunclosed client session is lowercase prose\n",
    )
    .unwrap();
    let out = Command::cargo_bin("unclosed")
        .unwrap()
        .args(["scan", "--format", "json"])
        .arg(&log)
        .assert()
        .success()
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"]["unread_mentions"], 1);
    assert!(
        v["inputs"][0]["first_unread"]
            .as_str()
            .unwrap()
            .ends_with("pasted.log:2")
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("pasted.log:2: 1 line(s)") && err.contains("--grammar"),
        "{err}"
    );
    Command::cargo_bin("unclosed")
        .unwrap()
        .arg("check")
        .arg(&log)
        .assert()
        .code(1);
    Command::cargo_bin("unclosed")
        .unwrap()
        .args(["check", "--allow-unread"])
        .arg(&log)
        .assert()
        .code(0);
}

#[test]
fn force_color_and_clicolor_force_colour_a_pipe_unless_no_color_says_otherwise() {
    let coloured = |env: &[(&str, &str)]| {
        let mut c = unclosed();
        c.env_remove("FORCE_COLOR").env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.arg("scan").write_stdin(LEAK).assert().success();
        String::from_utf8_lossy(&out.get_output().stdout).contains("\x1b[")
    };
    assert!(!coloured(&[]));
    assert!(coloured(&[("FORCE_COLOR", "1")]));
    assert!(coloured(&[("CLICOLOR_FORCE", "1")]));
    assert!(!coloured(&[("FORCE_COLOR", "0")]));
    assert!(!coloured(&[("FORCE_COLOR", "1"), ("NO_COLOR", "1")]));
    // `check` and `filter --stats` go the same way.
    let mut c = unclosed();
    let out = c
        .args(["check"])
        .env("FORCE_COLOR", "1")
        .write_stdin(LEAK)
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("\x1b["));
}

#[test]
fn completions_for_every_shell_and_a_man_page_per_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = unclosed().args(["completions", shell]).assert().success();
        let script = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        for word in ["scan", "check", "filter", "skip-frames", "allow-empty"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
        if shell == "bash" {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("unclosed.bash");
            std::fs::write(&path, &script).unwrap();
            let syntax = std::process::Command::new("bash")
                .arg("-n")
                .arg(&path)
                .status()
                .unwrap();
            assert!(syntax.success(), "bash -n refuses the script");
        }
    }
    unclosed()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("possible values"));

    let out = unclosed().arg("man").assert().success();
    let page = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(page.contains(".TH unclosed 1"), "{page}");
    assert!(page.contains("scan"));
    let dir = tempfile::tempdir().unwrap();
    unclosed().arg("man").arg(dir.path()).assert().success();
    for cmd in [
        "scan",
        "tail",
        "filter",
        "check",
        "run",
        "grammars",
        "completions",
        "man",
    ] {
        let page = std::fs::read_to_string(dir.path().join(format!("unclosed-{cmd}.1"))).unwrap();
        assert!(
            page.contains(&format!(".TH unclosed-{cmd} 1")),
            "{cmd}: {page}"
        );
        assert!(
            page.contains(env!("CARGO_PKG_VERSION")),
            "{cmd}: no version"
        );
    }
    let scan = std::fs::read_to_string(dir.path().join("unclosed-scan.1")).unwrap();
    assert!(scan.contains("skip\\-frames"), "options are listed");
    // groff renders it without a warning, when groff is there (-k: the page is UTF-8, as
    // man(1) feeds it through preconv).
    if let Ok(out) = std::process::Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .arg(dir.path().join("unclosed-scan.1"))
        .output()
    {
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn check_fails_on_an_empty_log_unless_allowed_and_quiet_prints_nothing() {
    unclosed()
        .arg("check")
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no input lines"));
    unclosed()
        .args(["check", "--allow-empty"])
        .write_stdin("")
        .assert()
        .code(0);
    // A log with lines but no finding still passes.
    unclosed()
        .arg("check")
        .write_stdin("INFO ok\n")
        .assert()
        .code(0);
    unclosed()
        .args(["check", "-q"])
        .write_stdin(LEAK)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty());
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    unclosed()
        .args(["check", "--quiet", "-f", "json", "-o"])
        .arg(&report)
        .write_stdin(LEAK)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty());
    let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(v["totals"]["leak"], 1);
}

#[test]
fn filter_reads_files_one_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log");
    std::fs::write(&a, format!("first\n{LEAK}after a\n")).unwrap();
    std::fs::write(&b, "only b\n").unwrap();
    let one_by_one: Vec<u8> = [&a, &b]
        .iter()
        .flat_map(|p| {
            unclosed()
                .args(["filter", "--drop", "leak"])
                .write_stdin(std::fs::read(p).unwrap())
                .assert()
                .success()
                .get_output()
                .stdout
                .clone()
        })
        .collect();
    let out = unclosed()
        .args(["filter", "--drop", "leak", "--stats", "json"])
        .arg(&a)
        .arg(dir.path().join("missing.log"))
        .arg(&b)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.log"));
    assert_eq!(out.get_output().stdout, one_by_one);
    assert_eq!(
        String::from_utf8_lossy(&one_by_one),
        "first\nafter a\nonly b\n"
    );
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    let stats: Value = serde_json::from_str(&stderr[stderr.find('{').unwrap()..]).unwrap();
    assert_eq!(stats["totals"]["leak"], 1);
    assert_eq!(stats["inputs"].as_array().unwrap().len(), 2);
}

#[test]
fn the_metrics_address_may_name_a_host_and_its_options_need_it() {
    // A name the system resolves is taken (its first address), on standard input read live.
    let out = unclosed()
        .args(["scan", "--metrics=localhost:0", "-f", "json"])
        .write_stdin(LEAK)
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("serving metrics at http://127.0.0.1:")
            || err.contains("serving metrics at http://[::1]:"),
        "{err}"
    );
    assert_eq!(json_of(&out.stdout)["totals"]["findings"], 1);
    // An address that is neither, and an option of --metrics without it: usage errors.
    unclosed()
        .args(["scan", "--metrics=not an address", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected IP:PORT or HOST:PORT"));
    unclosed()
        .args(["scan", "--metrics-max-sites", "5", "-"])
        .write_stdin(LEAK)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--metrics"));
}
