//! `tail` under real rotation: Debian's `logrotate` (`create`, `copytruncate`, forced with
//! `-f` on a state file of the test's own), the followed directory moved away, removed and
//! created again, and a file truncated and written again between two looks. A writer thread
//! appends at full speed the blocks of a committed fixture whose truth is recorded
//! (samples/logs/percall_debug_bare.log: 7 leaks, 15 pooled connections), and the lines and
//! findings that went in are counted against what `tail` reports. Waits are on conditions
//! (the file `tail` has open, the findings it printed) with generous limits; nothing here
//! measures speed.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{KEYS, stdout_of};

/// Only a guard against hangs.
const WAIT: Duration = Duration::from_secs(120);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("unclosed")
}

/// The fixture's lines, each with its `\n`, and its recorded truth (per copy).
struct Fixture {
    lines: Vec<Vec<u8>>,
    sessions: u64,
    connectors: u64,
    pooled: u64,
}

fn fixture() -> Fixture {
    let text = std::fs::read(root().join("samples/logs/percall_debug_bare.log")).unwrap();
    let truth: Value = serde_json::from_slice(
        &std::fs::read(root().join("samples/logs/percall_debug_bare.truth.json")).unwrap(),
    )
    .unwrap();
    let t = &truth["totals"];
    Fixture {
        lines: text
            .split_inclusive(|b| *b == b'\n')
            .map(<[u8]>::to_vec)
            .collect(),
        sessions: t["sessions"].as_u64().unwrap(),
        connectors: t["connectors"].as_u64().unwrap(),
        pooled: t["pooled_connections"].as_u64().unwrap(),
    }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `unclosed tail -f ndjson`; its stdout lines arrive as JSON values.
struct Tail {
    child: Child,
    out: Receiver<Value>,
    seen: Vec<Value>,
}

impl Tail {
    fn start(dir: &Path, args: &[&str]) -> Tail {
        let mut child = Command::new(bin())
            .args(["tail", "-f", "ndjson"])
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, out) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { return };
                let v: Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Tail {
            child,
            out,
            seen: Vec::new(),
        }
    }

    /// Whether `tail` holds the file now at `path` open.
    fn has_open(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(want) = std::fs::metadata(path) else {
            return false;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", self.child.id())) else {
            return false;
        };
        fds.flatten().any(|fd| {
            std::fs::metadata(fd.path())
                .is_ok_and(|m| (m.dev(), m.ino()) == (want.dev(), want.ino()))
        })
    }

    /// Takes the findings printed so far.
    fn poll(&mut self) {
        while let Ok(v) = self.out.try_recv() {
            self.seen.push(v);
        }
    }

    /// How many times the numbering of `input`'s findings started again (each a new file
    /// read from its start under that name), and the last line a finding named since.
    fn restarts(&mut self, input: &str) -> (usize, u64) {
        self.poll();
        let lines: Vec<u64> = self
            .seen
            .iter()
            .filter(|f| f["input"] == input)
            .map(|f| f["input_line"].as_u64().unwrap())
            .collect();
        let n = lines.windows(2).filter(|w| w[1] < w[0]).count();
        (n, lines.last().copied().unwrap_or(0))
    }

    /// SIGINT, then the summary.
    fn stop(mut self) -> (Vec<Value>, Value) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let deadline = Instant::now() + WAIT;
        let mut summary = None;
        while summary.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.out.recv_timeout(left).expect("the summary");
            if v["type"] == "summary" {
                summary = Some(v);
            } else {
                self.seen.push(v);
            }
        }
        assert_eq!(self.child.wait().unwrap().code(), Some(0));
        (std::mem::take(&mut self.seen), summary.unwrap())
    }
}

impl Drop for Tail {
    /// A test that failed leaves no `tail` running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the writer learns that its file was rotated.
#[derive(Clone)]
enum Reopen {
    /// Never: it appends to the same file (copytruncate).
    Never,
    /// When this file appears (logrotate's `postrotate` creates it, as a daemon would be
    /// sent SIGHUP): it goes on writing to the renamed file until then.
    OnFlag(PathBuf),
    /// When the path no longer names its file, looked at before each line (Python's
    /// `logging.handlers.WatchedFileHandler`); the directory is created again if need be.
    WhenGone,
}

/// What the writer wrote: every line, and the bytes of each file it wrote to, in order.
struct Written {
    lines: u64,
    copies: u64,
    files: Vec<Vec<u8>>,
}

/// What the test tells the writer about a rotation it asked for.
enum Step {
    /// Write on: the rotation is about to be made.
    Go,
    /// It was made.
    Made,
    /// `tail` saw it through.
    Seen,
}

/// The test's side of the rotations.
struct Rotations {
    /// The writer asks for a rotation (and waits for [`Step::Go`]).
    asked: Receiver<()>,
    tell: Sender<Step>,
}

impl Rotations {
    /// For each rotation the writer asks for: waits until `ready`, lets the writer write on,
    /// rotates, tells it, waits until `seen` (while the writer writes a whole copy more, then
    /// waits), tells it.
    fn each(
        &self,
        n: usize,
        mut ready: impl FnMut(usize),
        mut rotate: impl FnMut(usize),
        mut seen: impl FnMut(usize),
    ) {
        for k in 0..n {
            self.asked
                .recv_timeout(WAIT)
                .expect("the writer asking for a rotation");
            ready(k);
            self.tell.send(Step::Go).unwrap();
            rotate(k);
            self.tell.send(Step::Made).unwrap();
            seen(k);
            self.tell.send(Step::Seen).unwrap();
        }
    }
}

/// Appends copies of the fixture to `path` at full speed, one line per write(2), each pair
/// of blocks after a line of its own (`request N served`, so that no stretch of the log
/// repeats an earlier one byte for byte, as real logs' times and ids make sure). After every
/// `rotate_every` copies (`rotations` times) it asks for a rotation and, once told to, writes
/// on while the rotation is made and for one whole copy after, then waits until `tail` saw
/// it through. It writes at least `copies` copies.
fn writer(
    path: PathBuf,
    reopen: Reopen,
    copies: u64,
    rotate_every: u64,
    rotations: usize,
) -> (Rotations, std::thread::JoinHandle<Written>) {
    let (ask, asked) = channel();
    let (tell, told) = channel();
    let handle = std::thread::spawn(move || {
        let fx = fixture();
        let open = |p: &Path| -> (File, (u64, u64)) {
            use std::os::unix::fs::MetadataExt;
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).unwrap();
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .unwrap();
            let m = f.metadata().unwrap();
            (f, (m.dev(), m.ino()))
        };
        let (mut file, mut id) = open(&path);
        let mut w = Written {
            lines: 0,
            copies: 0,
            files: vec![Vec::new()],
        };
        let mut request = 0;
        let mut asked = 0;
        // Copies still to write before waiting for `tail`, once the rotation is made.
        let mut then: Option<u64> = None;
        let mut c = 0;
        while c < copies || asked < rotations || then.is_some() {
            if then.is_none() && asked < rotations && c > 0 && c % rotate_every == 0 {
                ask.send(()).unwrap();
                assert!(matches!(told.recv().unwrap(), Step::Go));
                asked += 1;
                then = Some(u64::MAX);
            }
            if then == Some(u64::MAX) && told.try_recv().is_ok() {
                then = Some(1);
            }
            if then == Some(0) {
                assert!(matches!(told.recv().unwrap(), Step::Seen));
                then = None;
            }
            for line in &fx.lines {
                let again = match &reopen {
                    Reopen::Never => false,
                    Reopen::OnFlag(flag) => std::fs::remove_file(flag).is_ok(),
                    Reopen::WhenGone => {
                        use std::os::unix::fs::MetadataExt;
                        std::fs::metadata(&path).map_or(true, |m| (m.dev(), m.ino()) != id)
                    }
                };
                if again {
                    (file, id) = open(&path);
                    w.files.push(Vec::new());
                }
                let mut put = |bytes: &[u8]| {
                    file.write_all(bytes).unwrap();
                    w.files.last_mut().unwrap().extend_from_slice(bytes);
                    w.lines += 1;
                };
                if line.starts_with(b"Unclosed client session") {
                    request += 1;
                    put(format!("request {request} served, writer copy {c}\n").as_bytes());
                }
                put(line);
            }
            c += 1;
            w.copies = c;
            if let Some(n) = &mut then
                && *n != u64::MAX
            {
                *n -= 1;
            }
        }
        w
    });
    (Rotations { asked, tell }, handle)
}

/// `unclosed scan -f json` over `files`, each an input of its own: the summary.
fn scan(files: &[PathBuf]) -> Value {
    let out = stdout_of(Command::new(bin()).args(["scan", "-f", "json"]).args(files));
    serde_json::from_slice(&out).unwrap()
}

/// The writer's files, each written out and scanned on its own.
fn scan_written(w: &Written) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = w
        .files
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let p = dir.path().join(format!("file{i}.log"));
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect();
    scan(&paths)
}

fn lines(summary: &Value) -> u64 {
    summary["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["lines"].as_u64().unwrap())
        .sum()
}

/// The counts compared with scan's: every report's, and the findings cut by a truncation.
const TOTALS: [&str; 10] = [
    KEYS[0],
    KEYS[1],
    KEYS[2],
    KEYS[3],
    KEYS[4],
    KEYS[5],
    KEYS[6],
    KEYS[7],
    KEYS[8],
    "truncated",
];

fn totals(v: &Value, keys: &[&str]) -> Vec<(String, u64)> {
    keys.iter()
        .map(|k| (k.to_string(), v["totals"][*k].as_u64().unwrap()))
        .collect()
}

/// Every object written is reported once: sessions and connectors are counted by their
/// headers, and a header lands in one file whatever rotation does.
fn assert_objects(summary: &Value, w: &Written) {
    let fx = fixture();
    let t = &summary["totals"];
    assert_eq!(t["sessions"], w.copies * fx.sessions, "{t}");
    assert_eq!(t["connectors"], w.copies * fx.connectors, "{t}");
    // A rotation between a connector's header and its `connections:` line leaves the count
    // out of both files; otherwise every pooled connection is counted.
    assert!(t["pooled_connections"].as_u64().unwrap() <= w.copies * fx.pooled);
}

fn logrotate(dir: &Path, rule: &str) -> impl Fn() + use<> {
    // /usr/sbin is not on every user's PATH.
    let program = ["logrotate", "/usr/sbin/logrotate"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .expect("these tests run Debian's logrotate: `apt-get install logrotate` (.ci/run does)");
    let conf = dir.join("logrotate.conf");
    std::fs::write(
        &conf,
        format!(
            "{}/app.log {{\n    rotate 50\n    missingok\n    nocompress\n{rule}}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let state = dir.join("logrotate.state");
    move || {
        stdout_of(
            Command::new(program)
                .arg("-f")
                .arg("-s")
                .arg(&state)
                .arg(&conf),
        );
    }
}

const COPIES: u64 = 100;
const ROTATE_EVERY: u64 = 20;
const ROTATIONS: usize = (COPIES / ROTATE_EVERY - 1) as usize;

/// logrotate's `create`: the file is renamed to app.log.1 and a new one made; the writer goes
/// on writing to the renamed file until `postrotate` tells it to reopen. Every line and
/// finding of every file is reported, exactly as `scan` reports those files.
fn check_create(args: &[&str]) {
    check_create_following(args, "app.log");
}

/// `pattern` names app.log: the path itself, or a glob that also matches the rotated names.
fn check_create_following(args: &[&str], pattern: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let flag = d.join("reopen");
    let rotate_now = logrotate(
        d,
        &format!(
            "    create\n    postrotate\n        touch {}\n    endscript\n",
            flag.display()
        ),
    );
    let log = d.join("app.log");
    File::create(&log).unwrap();
    let mut args = args.to_vec();
    args.extend(["--flush-ms", "60000", pattern]);
    let tail = Tail::start(d, &args);
    wait_until("tail to open app.log", || tail.has_open(&log));

    let (rotations, w) = writer(
        log.clone(),
        Reopen::OnFlag(flag),
        COPIES,
        ROTATE_EVERY,
        ROTATIONS,
    );
    rotations.each(
        ROTATIONS,
        |_| {},
        |_| rotate_now(),
        |_| wait_until("tail to open the new app.log", || tail.has_open(&log)),
    );
    let w = w.join().unwrap();
    let (_, summary) = tail.stop();

    assert_eq!(
        w.files.len(),
        ROTATIONS + 1,
        "the writer reopened once a rotation"
    );
    let on_disk: Vec<PathBuf> = std::iter::once(log.clone())
        .chain((1..=ROTATIONS).map(|i| d.join(format!("app.log.{i}"))))
        .collect();
    let disk = scan(&on_disk);
    assert_eq!(lines(&disk), w.lines, "logrotate's create loses no line");
    assert_eq!(lines(&summary), w.lines, "every line written was read");
    assert_eq!(
        summary["inputs"].as_array().unwrap().len(),
        ROTATIONS + 1,
        "one input per file"
    );
    assert_objects(&summary, &w);
    assert_eq!(
        totals(&summary, &TOTALS),
        totals(&scan_written(&w), &TOTALS),
        "tail reports each file as scan does"
    );
}

/// `app.log*` also matches app.log.1, …: each is the file just renamed away from app.log,
/// read there to its end, and never read again from its start as a new file.
#[test]
fn logrotate_create_under_a_glob_of_the_rotated_names_reads_each_line_once() {
    check_create_following(&[], "app.log*");
}

#[test]
fn logrotate_create_loses_no_line_and_no_finding() {
    check_create(&[]);
}

#[test]
fn logrotate_create_loses_no_line_and_no_finding_when_polling() {
    check_create(&["--poll", "--poll-ms", "50"]);
}

/// Where each of `files` (on disk, oldest first) starts in `stream` (all the writer wrote):
/// each is a stretch of it, found by its first `request N served` line.
fn starts_in(stream: &[u8], files: &[Vec<u8>]) -> Vec<usize> {
    files
        .iter()
        .map(|f| {
            let at = memchr::memmem::find(f, b"request ").expect("a request line in each file");
            let end = at + f[at..].iter().position(|&b| b == b'\n').unwrap() + 1;
            let found = memchr::memmem::find(stream, &f[at..end]).expect("the line written") - at;
            assert_eq!(
                &stream[found..found + f.len()],
                &f[..],
                "a file is a stretch of what was written"
            );
            found
        })
        .collect()
}

/// logrotate's `copytruncate`: the file is copied to app.log.1 and truncated while the writer
/// goes on appending. Each file `tail` read is what was written from the truncation before
/// it, from its first line on, up to where it got before the next truncation: at least all
/// that is on disk (what it had not read yet is read from the copy), and no more than was
/// written before that truncation (what the writer added between logrotate's copy and its
/// truncation is lost to the files; `tail` reads what of it came before it looked). Each is
/// reported as `scan` reports those lines, except that the block each truncation cut is
/// `unknown` rather than guessed.
fn check_copytruncate(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rotate_now = logrotate(d, "    copytruncate\n");
    let log = d.join("app.log");
    File::create(&log).unwrap();
    let mut args = args.to_vec();
    args.extend(["--flush-ms", "60000", "app.log"]);
    let tail = Tail::start(d, &args);
    wait_until("tail to open app.log", || tail.has_open(&log));

    let (rotations, w) = writer(log.clone(), Reopen::Never, COPIES, ROTATE_EVERY, ROTATIONS);
    // The same file throughout: `tail` is in the k-th once it numbers findings in it from the
    // start again the k-th time. Each rotation waits until `tail` read well into the file
    // (the next one's first finding has a lower line), and each is seen through once `tail`
    // numbers findings from the start again (the writer wrote a whole copy after it).
    let tail = std::cell::RefCell::new(tail);
    rotations.each(
        ROTATIONS,
        |k| {
            wait_until("tail to read into app.log", || {
                tail.borrow_mut().restarts("app.log") >= (k, 300)
            })
        },
        |_| rotate_now(),
        |k| {
            wait_until("tail to read app.log from its start", || {
                tail.borrow_mut().restarts("app.log").0 > k
            })
        },
    );
    let w = w.join().unwrap();
    let (found, summary) = tail.into_inner().stop();

    // The files, oldest first, and where each starts in what was written.
    let stream = &w.files[0];
    let on_disk: Vec<Vec<u8>> = (1..=ROTATIONS)
        .rev()
        .map(|i| d.join(format!("app.log.{i}")))
        .chain([log.clone()])
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let starts = starts_in(stream, &on_disk);
    // What `tail` read of each: a line cut by logrotate's copy is read as far as it goes.
    let read: Vec<usize> = summary["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["bytes"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(read.len(), ROTATIONS + 1, "one input per file: {read:?}");
    let texts = tempfile::tempdir().unwrap();
    let mut segments = Vec::new();
    let mut lost = 0;
    for k in 0..=ROTATIONS {
        let written = &stream[starts[k]..*starts.get(k + 1).unwrap_or(&stream.len())];
        assert!(
            read[k] <= written.len(),
            "file {k}: nothing read past its truncation"
        );
        let got = &written[..read[k]];
        let disk = &on_disk[k];
        assert!(
            got.len() >= disk.len(),
            "file {k}: all that is on disk was read"
        );
        if k == ROTATIONS {
            assert_eq!(got, &disk[..], "the last file read whole");
        }
        lost += written.len() - disk.len();
        let p = texts.path().join(format!("read{k}"));
        std::fs::write(&p, got).unwrap();
        segments.push(p);
    }
    eprintln!(
        "copytruncate: {} bytes written, {lost} lost by logrotate between its copies and truncations",
        stream.len()
    );
    let want = scan(&segments);
    let same = ["leak", "sessions", "connectors", "pooled_connections"];
    assert_eq!(totals(&summary, &same), totals(&want, &same));
    // Where a truncation cut the file, `scan` of those lines sees an end of file; `tail`
    // knows lines may be missing: a session waiting for its connector is `unknown`, not
    // `noise`, and a traceback cut short proves nothing against pairing a session with the
    // connector next to it (one finding, where `scan` compares the traceback it has).
    let (t, s) = (&summary["totals"], &want["totals"]);
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap() as usize;
    let paired = n(s, "findings") - n(t, "findings");
    let cut = n(t, "unknown") - n(s, "unknown");
    assert!(
        paired + cut <= ROTATIONS,
        "one cut block at most per truncation: {t} vs {s}"
    );
    assert_eq!(n(t, "noise") + cut + paired, n(s, "noise"), "{t} vs {s}");
    // Nothing is made of two files' lines: every finding with a call site names one of the
    // fixture's two (a block joined across a cut names another line, or none).
    for f in found.iter().filter(|f| f["type"] == "finding") {
        if !f["site"].is_null() {
            assert!(
                ["/app/percall.py:26", "/app/percall.py:34"].contains(&f["site"].as_str().unwrap()),
                "{f}"
            );
        }
    }
}

#[test]
fn logrotate_copytruncate_reads_the_rest_from_the_copy() {
    check_copytruncate(&[]);
}

#[test]
fn logrotate_copytruncate_reads_the_rest_from_the_copy_when_polling() {
    check_copytruncate(&["--poll", "--poll-ms", "50"]);
}

/// The followed file's directory moved away, removed, and moved away and created again at
/// once, while the writer writes (reopening as `WatchedFileHandler` does): every line of
/// every file is read, the ones moved away under their new names, the removed one through
/// the handle still open.
#[test]
fn moving_and_removing_the_directory_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let logs = d.join("logs");
    let log = logs.join("app.log");
    std::fs::create_dir(&logs).unwrap();
    File::create(&log).unwrap();
    let tail = Tail::start(d, &["--flush-ms", "60000", "logs/app.log"]);
    wait_until("tail to open logs/app.log", || tail.has_open(&log));

    let (rotations, w) = writer(log.clone(), Reopen::WhenGone, 80, 20, 3);
    rotations.each(
        3,
        |_| {},
        |k| match k {
            0 => std::fs::rename(&logs, d.join("logs.moved")).unwrap(),
            1 => std::fs::remove_dir_all(&logs).unwrap(),
            _ => {
                std::fs::rename(&logs, d.join("logs.moved-again")).unwrap();
                // The writer, finding its file gone, may have made the directory first.
                std::fs::create_dir_all(&logs).unwrap();
            }
        },
        |_| wait_until("tail to open the new logs/app.log", || tail.has_open(&log)),
    );
    let w = w.join().unwrap();
    let (_, summary) = tail.stop();

    assert_eq!(w.files.len(), 4, "the writer wrote four files");
    assert_eq!(lines(&summary), w.lines, "every line written was read");
    assert_objects(&summary, &w);
    assert_eq!(
        totals(&summary, &TOTALS),
        totals(&scan_written(&w), &TOTALS),
        "tail reports each file as scan does"
    );
    let names: Vec<String> = summary["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    let moved = |n: &str| names.iter().any(|x| x.ends_with(&format!("{n}/app.log")));
    assert!(
        moved("logs.moved") && moved("logs.moved-again"),
        "{names:?}"
    );
}

/// A file truncated and written again, longer, between two looks (the deterministic form of
/// a fast copytruncate): what follows the truncation is read from its start as a new input;
/// the block the truncation cut (a session whose connector had not come) is `unknown` and
/// truncated, not paired with the connector that stands at the same offset in the new text.
fn check_rewrite(args: &[&str]) {
    let fx = fixture();
    let starts: Vec<usize> = (0..fx.lines.len())
        .filter(|&i| fx.lines[i].starts_with(b"Unclosed client session"))
        .collect();
    let connector = (starts[1]..fx.lines.len())
        .find(|&i| fx.lines[i].starts_with(b"Unclosed connector"))
        .unwrap();
    // The first pair, then the second session, waiting for its connector.
    let old: Vec<u8> = fx.lines[..connector].concat();
    // Written again: the same blocks from another run (other addresses, the same length),
    // then the whole fixture's rest.
    let again = String::from_utf8(old.clone())
        .unwrap()
        .replace("0x7ffa", "0x7ffb");
    assert_eq!(again.len(), old.len());
    let new = [again.as_bytes(), &fx.lines[connector..].concat()].concat();

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, &old).unwrap();
    let mut args = args.to_vec();
    args.extend(["--from-start", "--flush-ms", "60000", "app.log"]);
    let mut tail = Tail::start(dir.path(), &args);
    // The first pair is decided once the second session starts: the old text was read.
    wait_until("the first finding", || {
        tail.poll();
        !tail.seen.is_empty()
    });
    let mut f = OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(0).unwrap();
    f.write_all(&new).unwrap();
    drop(f);
    let (found, summary) = tail.stop();

    let inputs: Vec<(String, u64)> = summary["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["lines"].as_u64().unwrap(),
            )
        })
        .collect();
    let count = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count() as u64;
    assert_eq!(
        inputs,
        vec![
            ("app.log".to_owned(), count(&old)),
            ("app.log".to_owned(), count(&new))
        ],
        "the new text read from its start, as an input of its own"
    );
    let cut = found
        .iter()
        .find(|f| f["input_line"] == starts[1] as u64 + 1)
        .expect("the second session");
    assert_eq!(
        (
            &cut["label"],
            &cut["truncated"],
            &cut["sessions"],
            &cut["connectors"]
        ),
        (
            &Value::from("unknown"),
            &Value::from(true),
            &Value::from(1),
            &Value::from(0)
        ),
        "the session the truncation cut: {cut}"
    );
    // Otherwise each text as `scan` reads it, where the old one's end is the end of a file.
    let texts = tempfile::tempdir().unwrap();
    let (a, b) = (texts.path().join("old"), texts.path().join("new"));
    std::fs::write(&a, &old).unwrap();
    std::fs::write(&b, &new).unwrap();
    let mut want = totals(&scan(&[a, b]), &TOTALS);
    for (k, v) in &mut want {
        match k.as_str() {
            "noise" => *v -= 1,
            "unknown" | "truncated" => *v += 1,
            _ => {}
        }
    }
    assert_eq!(totals(&summary, &TOTALS), want);
}

#[test]
fn a_file_truncated_and_written_again_between_two_looks_is_read_from_its_start() {
    // Polling once a minute: no look between the truncation and the new text but the one
    // at the end (SIGINT), which reads what is there.
    check_rewrite(&["--poll", "--poll-ms", "60000"]);
}

#[test]
fn a_file_truncated_and_written_again_at_once_is_read_from_its_start() {
    check_rewrite(&[]);
}
