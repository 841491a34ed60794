//! Live use with real processes, pipes and files: stdin as it arrives, `tail` through
//! rotation, `filter` in a pipeline, signals. Waits have generous limits that only guard
//! against hangs; nothing here measures speed.

mod common;
use common::KEYS;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

const LEAK: &str = "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>
Unclosed connector
connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2ba0>, 2092.40), (<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2970>, 2092.40)])']
connector: <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>
";
const WAIT: Duration = Duration::from_secs(20);

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("unclosed")
}

/// A running `unclosed` whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    lines: Receiver<String>,
}

impl Running {
    fn start(args: &[&str], dir: &Path) -> Running {
        let mut child = Command::new(bin())
            .args(args)
            .current_dir(dir)
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { return };
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Running { child, lines }
    }

    /// A field of `/proc/<pid>/<file>` (Linux), e.g. `SigCgt` of `status`.
    fn proc_field(&self, file: &str, key: &str) -> Option<String> {
        let text = std::fs::read_to_string(format!("/proc/{}/{file}", self.child.id())).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(|v| v.trim().to_owned())
    }

    /// Waits until `cond` holds, failing after WAIT: a condition the process shows, never a
    /// guess at how long it takes on a loaded machine.
    fn wait_for(&self, what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the process catches SIGINT and SIGTERM (its handlers are installed before
    /// its first read, and, under `tail`, after it looked at the files already there).
    fn ready(&self) {
        self.wait_for("the signal handlers", || {
            self.proc_field("status", "SigCgt")
                .and_then(|m| u64::from_str_radix(&m, 16).ok())
                .is_some_and(|m| m & (1 << 1) != 0 && m & (1 << 14) != 0)
        });
    }

    /// Bytes the process has read through system calls so far.
    fn bytes_read(&self) -> u64 {
        self.proc_field("io", "rchar")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Writes `text` and waits until the process has read it.
    fn write_and_wait(&mut self, text: &str) {
        self.ready();
        let before = self.bytes_read();
        self.write(text);
        let want = before + text.len() as u64;
        self.wait_for("the process to read what was written", || {
            self.bytes_read() >= want
        });
    }

    fn write(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// The next stdout line, or a failure after WAIT.
    fn next(&self, what: &str) -> String {
        self.lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no output line: waiting for {what}"))
    }

    /// Waits for `n` finding lines (NDJSON).
    fn findings(&self, n: usize, what: &str) -> Vec<Value> {
        let mut v = Vec::new();
        while v.len() < n {
            let l: Value = serde_json::from_str(&self.next(what)).unwrap();
            assert_eq!(l["type"], "finding", "{what}: {l}");
            v.push(l);
        }
        v
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Reads to the end and returns the last line and the exit status.
    fn end(mut self) -> (String, i32) {
        drop(self.child.stdin.take());
        let mut last = String::new();
        let deadline = Instant::now() + WAIT;
        while let Ok(l) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            last = l;
        }
        let status = self.child.wait().unwrap();
        (last, status.code().unwrap_or(-1))
    }
}

impl Drop for Running {
    /// A test that fails leaves no process behind (one holding the test's pipes would keep
    /// `cargo test | …` waiting).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn summary(line: &str) -> Value {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["type"], "summary", "{v}");
    v
}

#[test]
fn stdin_reports_a_finding_before_anything_else_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Running::start(&["scan", "-f", "ndjson"], dir.path());
    // The block's last line is followed by nothing: only the flush timeout can decide it.
    r.write(LEAK);
    let f = r.findings(1, "the leak, while stdin is still open");
    assert_eq!(f[0]["pooled_connections"], 2);
    r.write(&format!("INFO later\n{LEAK}"));
    r.findings(1, "the second leak");
    let (last, code) = r.end();
    assert_eq!(summary(&last)["totals"]["leak"], 2);
    assert_eq!(code, 0);
}

#[test]
fn sigint_and_sigterm_print_the_summary_and_exit_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for sig in ["-INT", "-TERM"] {
        let mut r = Running::start(&["scan", "-f", "ndjson", "--flush-ms", "60000"], dir.path());
        // Read, then held: the flush timeout is a minute away.
        r.write_and_wait("Unclosed client session\n");
        r.signal(sig);
        let first = r.next("the held block, decided at the signal");
        assert_eq!(
            serde_json::from_str::<Value>(&first).unwrap()["label"],
            "unknown"
        );
        let (last, code) = r.end();
        assert_eq!(summary(&last)["totals"]["findings"], 1, "{sig}");
        assert_eq!(code, 0, "{sig}");
    }
}

#[test]
fn filter_holds_lines_no_longer_than_the_flush_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Running::start(&["filter", "--flush-ms", "200"], dir.path());
    r.write("INFO before\nUnclosed client session\n");
    assert_eq!(r.next("a line that belongs to no block"), "INFO before");
    // A session header with nothing after it may still be noise; after the timeout it is
    // decided (unknown, no body) and kept.
    assert_eq!(
        r.next("the held header, after the timeout"),
        "Unclosed client session"
    );
    let (_, code) = r.end();
    assert_eq!(code, 0);
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Runs `tail` over `dir`, once it has looked at the files already there.
fn tail(dir: &Path, extra: &[&str]) -> Running {
    let mut args = vec!["tail", "-f", "ndjson"];
    args.extend_from_slice(extra);
    let r = Running::start(&args, dir);
    r.ready();
    r
}

fn check_rotation(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "INFO before tail started\n");
    let mut args = extra.to_vec();
    args.push("app.log");
    let r = tail(dir.path(), &args);

    append(&log, LEAK);
    r.findings(1, "an appended block");

    // Rename rotation: the writer finishes the old file, then starts a new one.
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(
        &dir.path().join("app.log.1"),
        &format!("INFO last words\n{LEAK}"),
    );
    append(&log, &format!("INFO new file\n{LEAK}"));
    r.findings(2, "one block in the rotated file, one in the new");

    // copytruncate.
    std::fs::write(&log, "").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    append(&log, LEAK);
    r.findings(1, "a block after truncation");

    // Delete and create again.
    std::fs::remove_file(&log).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    append(&log, LEAK);
    r.findings(1, "a block in the recreated file");

    // A line written in two pieces is read once.
    append(&log, "Unclosed client sess");
    std::thread::sleep(Duration::from_millis(600));
    append(
        &log,
        "ion\nclient_session: <aiohttp.client.ClientSession object at 0x7f>\nINFO x\n",
    );
    let f = r.findings(1, "the session written in two pieces");
    assert_eq!(f[0]["label"], "noise");

    r.signal("-INT");
    let (last, code) = r.end();
    let s = summary(&last);
    assert_eq!(
        s["totals"]["findings"], 6,
        "no finding lost or doubled: {s}"
    );
    assert_eq!(s["totals"]["pooled_connections"], 10);
    assert_eq!(code, 0);
}

#[test]
fn tail_survives_rotation_truncation_and_recreation() {
    check_rotation(&[]);
}

#[test]
fn tail_survives_rotation_truncation_and_recreation_when_polling() {
    check_rotation(&["--poll", "--poll-ms", "50"]);
}

#[test]
fn tail_starts_at_the_end_and_a_glob_picks_up_new_files() {
    let dir = tempfile::tempdir().unwrap();
    append(&dir.path().join("a.log"), LEAK);
    let r = tail(dir.path(), &["*.log"]);
    append(&dir.path().join("b.log"), LEAK);
    let f = r.findings(1, "a block in a file created after start");
    assert!(
        f[0]["input"].as_str().unwrap().ends_with("b.log"),
        "{}",
        f[0]
    );
    r.signal("-TERM");
    let (last, code) = r.end();
    assert_eq!(
        summary(&last)["totals"]["findings"],
        1,
        "the block already in a.log was before the start"
    );
    assert_eq!(code, 0);
}

fn fixtures() -> Vec<PathBuf> {
    common::fixture_logs()
}

fn totals(v: &Value) -> Vec<u64> {
    KEYS.iter()
        .map(|k| v["totals"][k].as_u64().unwrap())
        .collect()
}

fn scan_file(path: &Path) -> Value {
    let out = Command::new(bin())
        .args(["scan", "-f", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn scan_tail_and_filter_agree_on_every_fixture() {
    let files = fixtures();
    // tail --from-start over all the finished files at once, then Ctrl-C.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = vec!["--from-start", "--flush-ms", "5000"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let r = tail(dir, &args);
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    r.wait_for("tail to read every fixture", || r.bytes_read() >= total);
    r.signal("-INT");
    let (last, code) = r.end();
    assert_eq!(code, 0);
    let tailed = summary(&last);
    let mut scanned = [0u64; KEYS.len()];
    for f in &files {
        let s = scan_file(f);
        for (i, n) in totals(&s).into_iter().enumerate() {
            scanned[i] += n;
        }
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "'{}' filter --flush-ms 5000 --stats json < '{}' 2>&1 >/dev/null",
                bin().display(),
                f.display()
            ))
            .output()
            .unwrap();
        let filtered: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(
            totals(&filtered),
            totals(&s),
            "filter --stats vs scan: {}",
            f.display()
        );
    }
    assert_eq!(
        totals(&tailed),
        scanned.to_vec(),
        "tail --from-start vs scan over all fixtures"
    );
}

#[test]
fn filter_keeps_every_fixture_byte_for_byte_with_drop_none_and_removes_only_noise() {
    for f in fixtures() {
        let input = std::fs::read(&f).unwrap();
        let run = |args: &[&str], stdin: &[u8]| -> Vec<u8> {
            let mut c = Command::new(bin())
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut si = c.stdin.take().unwrap();
            let data = stdin.to_vec();
            let w = std::thread::spawn(move || si.write_all(&data));
            let out = c.wait_with_output().unwrap();
            w.join().unwrap().unwrap();
            assert!(out.status.success());
            out.stdout
        };
        assert_eq!(
            run(&["filter", "--drop", "none", "--flush-ms", "5000"], &input),
            input,
            "{}",
            f.display()
        );
        let kept = run(&["filter", "--flush-ms", "5000"], &input);
        // What is kept is the input, in order, less some lines.
        let in_lines: Vec<&[u8]> = input.split_inclusive(|b| *b == b'\n').collect();
        let mut it = in_lines.iter();
        for l in kept.split_inclusive(|b| *b == b'\n') {
            assert!(
                it.any(|x| *x == l),
                "{}: output is not a subsequence of the input",
                f.display()
            );
        }
        // What went is exactly the noise: scanning what is left finds no noise and the rest unchanged.
        let before = scan_file(&f);
        let dir = tempfile::tempdir().unwrap();
        let left = dir.path().join("left.log");
        std::fs::write(&left, &kept).unwrap();
        let after = scan_file(&left);
        assert_eq!(after["totals"]["noise"], 0, "{}", f.display());
        for k in [
            "leak",
            "unknown",
            "pooled_connections",
            "connectors",
            "responses",
            "connections",
        ] {
            assert_eq!(
                after["totals"][k],
                before["totals"][k],
                "{}: {k}",
                f.display()
            );
        }
        let removed = in_lines.len() - kept.split_inclusive(|b| *b == b'\n').count();
        assert_eq!(
            removed > 0,
            before["totals"]["noise"].as_u64().unwrap() > 0,
            "{}",
            f.display()
        );
    }
}

#[test]
fn a_writer_pausing_in_the_middle_of_a_line_does_not_split_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Running::start(&["scan", "-f", "ndjson", "--flush-ms", "200"], dir.path());
    let (a, b) = LEAK.split_at(LEAK.find("object at").unwrap());
    r.write(a);
    // Longer than the flush timeout: the half line must still hold the block back.
    std::thread::sleep(Duration::from_millis(1000));
    r.write(b);
    let f = r.findings(1, "the leak once its line is complete");
    assert_eq!(f[0]["label"], "leak", "{}", f[0]);
    assert_eq!(f[0]["pooled_connections"], 2);
    let (last, _) = r.end();
    assert_eq!(summary(&last)["totals"]["findings"], 1);
}

#[test]
fn filter_leaves_out_the_whole_w_error_form_of_a_block() {
    let log = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/logs/percall_werror.log"),
    )
    .unwrap();
    let input = format!("hello\n{log}end\n");
    let out = Command::new(bin())
        .args(["filter", "--drop", "all"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = out;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains("Exception ignored")
            && !text.contains("_warnings.warn")
            && !text.contains("Unclosed"),
        "{text}"
    );
    assert!(
        text.starts_with("hello\n") && text.ends_with("end\n"),
        "{text}"
    );
}

#[test]
fn a_signal_before_any_input_gives_the_summary_and_status_0() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (args, sig) in [
        (vec!["scan", "-f", "ndjson"], "-INT"),
        (vec!["scan", "-f", "ndjson"], "-TERM"),
        // A named pipe nobody writes to: opening it blocks.
        (vec!["scan", "-f", "ndjson", "pipe"], "-INT"),
        (vec!["scan", "-f", "ndjson", "/dev/stdin"], "-TERM"),
    ] {
        let r = Running::start(&args, dir.path());
        r.ready();
        r.signal(sig);
        let (last, code) = r.end();
        assert_eq!(summary(&last)["totals"]["findings"], 0, "{args:?} {sig}");
        assert_eq!(code, 0, "{args:?} {sig}");
    }
    for args in [vec!["filter"], vec!["check", "--allow-empty", "-f", "json"]] {
        let r = Running::start(&args, dir.path());
        r.ready();
        r.signal("-INT");
        let (_, code) = r.end();
        assert_eq!(code, 0, "{args:?}");
    }
}

/// Line `n` of the file at `path`, as `sed -n Np` prints it.
fn sed_n(path: &Path, n: u64) -> String {
    let out = Command::new("sed")
        .arg("-n")
        .arg(format!("{n}p"))
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

#[test]
fn tail_line_numbers_count_the_lines_it_joined_after_and_restart_with_each_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(
        &log,
        "INFO one\nINFO two\nINFO three\nINFO four\nINFO five\n",
    );
    let r = tail(dir.path(), &["app.log"]);
    append(&log, &format!("{LEAK}INFO after\n"));
    let first = r.findings(1, "the leak appended after tail started");
    // Rotation by renaming, the old file written to once more, then a new file.
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(
        &dir.path().join("app.log.1"),
        &format!("INFO late\n{LEAK}INFO end\n"),
    );
    std::thread::sleep(Duration::from_millis(600));
    append(&log, &format!("INFO new file\n{LEAK}INFO end\n"));
    let mut found = vec![first[0].clone()];
    found.extend(r.findings(2, "the leaks in the rotated and the new file"));
    r.signal("-INT");
    let (_, code) = r.end();
    assert_eq!(code, 0);
    let mut seen: Vec<(String, u64)> = Vec::new();
    for (i, f) in found.iter().enumerate() {
        let name = f["input"].as_str().unwrap().to_owned();
        let n = f["input_line"].as_u64().unwrap();
        // The first was reported while the file was app.log; it is app.log.1 now.
        let now = if i == 0 { "app.log.1" } else { name.as_str() };
        assert_eq!(
            sed_n(&dir.path().join(now), n),
            "Unclosed client session",
            "{name}:{n} is not where the block starts: {f}"
        );
        seen.push((name, n));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("app.log".to_owned(), 2),
            ("app.log".to_owned(), 6),
            ("app.log.1".to_owned(), 13),
        ]
    );
}

/// kubelet's layout: `/var/log/containers/<pod>_<ns>_<container>-<id>.log` are symbolic links to
/// `/var/log/pods/<ns>_<pod>_<uid>/<container>/0.log`. A write to the target is notified in its
/// own directory, not the link's: with the rescan an hour away, only notifications can bring
/// the appended blocks in.
#[test]
fn tail_reads_through_kubelets_links_on_notifications_alone() {
    let dir = tempfile::tempdir().unwrap();
    let pods = dir.path().join("pods/default_api-7d4_0b1c/api");
    let containers = dir.path().join("containers");
    std::fs::create_dir_all(&pods).unwrap();
    std::fs::create_dir_all(&containers).unwrap();
    let target = pods.join("0.log");
    append(&target, "INFO started\n");
    std::os::unix::fs::symlink(&target, containers.join("api-7d4_default_api-3f9e.log")).unwrap();

    let r = tail(dir.path(), &["--rescan-ms", "3600000", "containers/*.log"]);
    append(&target, LEAK);
    r.findings(1, "a block appended to the link's target");
    // kubelet's rotation: the file is renamed beside itself and a new one made at the target.
    std::fs::rename(&target, pods.join("0.log.20261130-101500")).unwrap();
    append(&target, &format!("INFO new file\n{LEAK}"));
    r.findings(1, "a block in the new file behind the link");
    // A pod that starts after tail did: its directory, its file, then its link.
    let later = dir.path().join("pods/default_web-9e2_77aa/web");
    std::fs::create_dir_all(&later).unwrap();
    append(&later.join("0.log"), "");
    std::os::unix::fs::symlink(
        later.join("0.log"),
        containers.join("web-9e2_default_web-1a2b.log"),
    )
    .unwrap();
    append(&later.join("0.log"), LEAK);
    r.findings(1, "a block in a pod's file linked after the start");
    append(&later.join("0.log"), &format!("INFO more\n{LEAK}"));
    r.findings(1, "a block appended after that");
    r.signal("-TERM");
    let (last, code) = r.end();
    assert_eq!(summary(&last)["totals"]["findings"], 4);
    assert_eq!(code, 0);
}

/// A glob whose wildcards cross directories (`pods/*/*/*.log`): a new pod's directories are
/// watched as they appear, so its file is found on notifications alone (the rescan is an hour
/// away), however quickly the kubelet makes the directories and the file one after another.
/// A file renamed away is read to its end on the notifications its writer causes, and let go
/// once quiet.
#[test]
fn tail_finds_a_new_pods_file_under_a_glob_of_directories_on_notifications_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pods")).unwrap();
    let r = tail(dir.path(), &["--rescan-ms", "3600000", "pods/*/*/*.log"]);
    for (i, pod) in ["default_api-7d4_0b1c", "default_web-9e2_77aa"]
        .iter()
        .enumerate()
    {
        let c = dir.path().join("pods").join(pod).join("main");
        std::fs::create_dir_all(&c).unwrap();
        append(&c.join("0.log"), LEAK);
        let f = r.findings(1, &format!("a block in pod {i}'s new file"));
        assert!(f[0]["input"].as_str().unwrap().contains(pod), "{}", f[0]);
        // kubelet's rotation, then the writer's last words in the file renamed away.
        let rotated = c.join("0.log.20261130-101500");
        std::fs::rename(c.join("0.log"), &rotated).unwrap();
        // Time to see the path empty first (if it does not, the test proves less, but holds).
        std::thread::sleep(Duration::from_millis(300));
        append(&rotated, LEAK);
        r.findings(1, &format!("a block in pod {i}'s file renamed away"));
    }
    r.signal("-TERM");
    let (last, code) = r.end();
    assert_eq!(summary(&last)["totals"]["findings"], 4);
    assert_eq!(code, 0);
}

#[test]
fn tail_of_a_glob_that_never_matched_says_no_file_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let r = Running::start(&["tail", "nothing-*.log"], dir.path());
    r.ready();
    r.signal("-TERM");
    let (last, code) = r.end();
    assert_eq!(
        last, "No aiohttp garbage-collection warnings: no file was read.",
        "not `… in 0 lines of .`"
    );
    assert_eq!(code, 0);
}
