//! `tail --metrics` with the real parts: Debian's Prometheus scrapes it while committed
//! fixtures (samples/logs, real aiohttp output) are appended to files named like the
//! kubelet's, and what Prometheus's query API says equals what `scan` finds in the same
//! bytes; `promtool check metrics` accepts the exposition; rotation, copytruncate and a pod's
//! files coming and going keep the counters monotonic and the followed-files gauge right.
//!
//! Nothing here is timed: every wait polls until a condition holds, with a deadline far
//! beyond what a loaded machine needs, only to end a hang.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::stdout_of;

/// Only a guard against hangs.
const WAIT: Duration = Duration::from_secs(120);

const ID: &str = "6f0b5a3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90";

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("unclosed")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::samples().join(name)).unwrap()
}

/// Polls `get` until it gives a value; `Err` says what it saw instead (in the failure).
fn wait_until<T>(what: &str, mut get: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match get() {
            Ok(v) => return v,
            Err(saw) => assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last saw {saw}"
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `Ok` when `got` is `want`, else what it was.
fn same<T: PartialEq + std::fmt::Debug>(got: T, want: &T) -> Result<(), String> {
    if got == *want {
        Ok(())
    } else {
        Err(format!("{got:?}, not {want:?}"))
    }
}

/// A plain HTTP/1.0 GET: status and body (None when nothing answers yet).
fn get(addr: &str, path: &str, accept: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(WAIT)).ok()?;
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{accept}\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// `name{labels}` → value, from a Prometheus text exposition.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

/// A running `unclosed tail --metrics=127.0.0.1:0 -f ndjson`.
struct Tail {
    child: Child,
    addr: String,
    out: Receiver<Value>,
}

impl Tail {
    fn start(dir: &Path, patterns: &[&str]) -> Tail {
        let mut child = Command::new(bin())
            .args([
                "tail",
                "--metrics=127.0.0.1:0",
                "-f",
                "ndjson",
                "--from-start",
            ])
            .args(patterns)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = BufReader::new(child.stderr.take().unwrap());
        let (atx, arx) = channel();
        std::thread::spawn(move || {
            for l in err.lines() {
                let Ok(l) = l else { return };
                eprintln!("tail: {l}");
                if let Some(a) = common::metrics_address_in(&l) {
                    let _ = atx.send(a);
                }
            }
        });
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, out) = channel();
        std::thread::spawn(move || {
            for l in stdout.lines() {
                let Ok(l) = l else { return };
                let v: Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let addr = arx.recv_timeout(WAIT).expect("tail says where it serves");
        Tail { child, addr, out }
    }

    fn metrics(&self) -> Option<BTreeMap<String, f64>> {
        match get(&self.addr, "/metrics", None)? {
            (200, body) => Some(samples(&body)),
            (status, body) => panic!("/metrics: {status} {body}"),
        }
    }

    /// Polls /metrics until `sample` is `want`; every scrape on the way is checked
    /// monotonic against the one before (`seen`).
    fn until(&self, seen: &mut BTreeMap<String, f64>, sample: &str, want: f64) {
        wait_until(&format!("{sample} = {want}"), || {
            let now = self.metrics().ok_or("no answer")?;
            monotonic(seen, &now);
            same(now.get(sample).copied(), &Some(want))
        });
    }

    /// Polls /metrics until the findings of every series add up to `want`, checking each
    /// scrape monotonic as [`Tail::until`] does.
    fn until_findings(&self, seen: &mut BTreeMap<String, f64>, want: f64) {
        wait_until(&format!("{want} findings"), || {
            let now = self.metrics().ok_or("no answer")?;
            monotonic(seen, &now);
            same(findings_sum(&now), &want)
        });
    }
}

/// The findings of every `unclosed_findings_total` series, added up.
fn findings_sum(m: &BTreeMap<String, f64>) -> f64 {
    m.iter()
        .filter(|(k, _)| k.starts_with("unclosed_findings_total{"))
        .map(|(_, v)| v)
        .sum()
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every counter in `now` is at least what it was in `before`, and no counter series is
/// gone; `before` becomes `now`.
fn monotonic(before: &mut BTreeMap<String, f64>, now: &BTreeMap<String, f64>) {
    for (k, v) in before.iter() {
        if k.contains("_total") {
            let n = now.get(k).unwrap_or_else(|| panic!("{k} disappeared"));
            assert!(n >= v, "{k} went down from {v} to {n}");
        }
    }
    *before = now.clone();
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// `scan -f json` of `files`: per (site, label), findings; per site, pooled connections;
/// and lines.
struct Scanned {
    findings: BTreeMap<(String, String), f64>,
    pooled: BTreeMap<String, f64>,
    lines: f64,
}

fn scan(files: &[&Path]) -> Scanned {
    let out = stdout_of(Command::new(bin()).args(["scan", "-f", "json"]).args(files));
    let v: Value = serde_json::from_slice(&out).unwrap();
    let mut s = Scanned {
        findings: BTreeMap::new(),
        pooled: BTreeMap::new(),
        lines: v["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["lines"].as_f64().unwrap())
            .sum(),
    };
    for site in v["sites"].as_array().unwrap() {
        let name = site["site"].as_str().unwrap_or("none").to_owned();
        for label in ["leak", "noise", "unknown"] {
            let n = site[label].as_f64().unwrap();
            if n > 0.0 {
                *s.findings.entry((name.clone(), label.into())).or_default() += n;
            }
        }
        *s.pooled.entry(name).or_default() += site["pooled_connections"].as_f64().unwrap();
    }
    s
}

/// One series of a query's answer: its labels and value.
type Series = (BTreeMap<String, String>, f64);

/// A Prometheus server on 127.0.0.1 scraping `target` every second.
struct Prometheus {
    child: Child,
    addr: String,
}

impl Prometheus {
    fn start(dir: &Path, target: &str) -> Prometheus {
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: unclosed\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        // A free port, asked of the system; should another process take it before
        // Prometheus does, Prometheus exits and the next port is tried.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr = format!("127.0.0.1:{port}");
            let mut child = Command::new("prometheus")
                .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
                .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--log.level=warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("these tests run Debian's prometheus: `apt-get install prometheus` (.ci/run does)");
            let ready = wait_until("Prometheus to be ready or to exit", || {
                if child.try_wait().unwrap().is_some() {
                    return Ok(false);
                }
                match get(&addr, "/-/ready", None) {
                    Some((200, _)) => Ok(true),
                    other => Err(format!("{other:?}")),
                }
            });
            if ready {
                return Prometheus { child, addr };
            }
        }
        panic!("Prometheus did not start");
    }

    /// The result vector of an instant query: each series' labels and value.
    fn query(&self, q: &str) -> Result<Vec<Series>, String> {
        let q = percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC);
        let (status, body) =
            get(&self.addr, &format!("/api/v1/query?query={q}"), None).ok_or("no answer")?;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let rows = v["data"]["result"].as_array().ok_or(body.clone())?;
        Ok(rows
            .iter()
            .map(|r| {
                let labels = r["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect();
                (labels, r["value"][1].as_str().unwrap().parse().unwrap())
            })
            .collect())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The kubelet's two layouts, in a temp dir: a `containers/` link name and a `pods/` file.
fn kubelet_files(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir.join("containers")).unwrap();
    let pod_dir = dir.join("pods/jobs_worker-5c6d_0d1c2b3a-4e5f-6789-abcd-ef0123456789/main");
    std::fs::create_dir_all(&pod_dir).unwrap();
    let a = dir.join(format!("containers/api-7d9f8b-x2kq_shop_web-{ID}.log"));
    let b = pod_dir.join("0.log");
    std::fs::write(&a, b"").unwrap();
    std::fs::write(&b, b"").unwrap();
    (a, b)
}

const PATTERNS: [&str; 2] = ["containers/*.log", "pods/*/*/*.log"];

/// `tail` of kubelet's two layouts in `dir` ([`kubelet_files`]), once it follows both: the
/// tail, the two files, and the metrics it served so far.
fn following_kubelet_files(dir: &Path) -> (Tail, PathBuf, PathBuf, BTreeMap<String, f64>) {
    let (a, b) = kubelet_files(dir);
    let tail = Tail::start(dir, &PATTERNS);
    let mut seen = BTreeMap::new();
    tail.until(&mut seen, "unclosed_files_followed", 2.0);
    (tail, a, b, seen)
}

#[test]
fn prometheus_scrapes_what_scan_finds_per_pod_and_site() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (tail, a, b, _) = following_kubelet_files(dir);
    let prom = Prometheus::start(dir, &tail.addr);

    // Two pods' container logs in CRI's envelope, as the kubelet writes them; a's in two
    // appends.
    let cri = fixture("percall_cri.log");
    let (first, second) = cri.split_at(cri.len() / 2);
    append(&a, first);
    append(&b, &fixture("bigpool_cri_partial.log"));
    append(&a, second);
    let bytes = std::fs::metadata(&a).unwrap().len() + std::fs::metadata(&b).unwrap().len();

    for (file, ns, pod, container) in [
        (&a, "shop", "api-7d9f8b-x2kq", "web"),
        (&b, "jobs", "worker-5c6d", "main"),
    ] {
        let want = scan(&[file.as_path()]);
        assert!(!want.findings.is_empty(), "the fixture has findings");
        let sel = format!("namespace=\"{ns}\",pod=\"{pod}\",container=\"{container}\"");
        // Read back through Prometheus's query API, once it has scraped everything.
        wait_until(&format!("Prometheus to have {pod}'s findings"), || {
            let rows = prom.query(&format!(
                "sum by (site, label) (unclosed_findings_total{{{sel}}})"
            ))?;
            let got: BTreeMap<(String, String), f64> = rows
                .into_iter()
                .map(|(l, v)| ((l["site"].clone(), l["label"].clone()), v))
                .collect();
            same(got, &want.findings)
        });
        wait_until(
            &format!("Prometheus to have {pod}'s pooled connections"),
            || {
                let rows = prom.query(&format!(
                    "sum by (site) (unclosed_pooled_connections_total{{{sel}}})"
                ))?;
                let got: BTreeMap<String, f64> = rows
                    .into_iter()
                    .map(|(l, v)| (l["site"].clone(), v))
                    .collect();
                same(got, &want.pooled)
            },
        );
        let file = file.strip_prefix(dir).unwrap().display().to_string();
        wait_until(&format!("Prometheus to have {file}'s lines"), || {
            let rows = prom.query(&format!("unclosed_lines_total{{file=\"{file}\"}}"))?;
            same(rows.iter().map(|r| r.1).collect(), &vec![want.lines])
        });
    }
    wait_until("Prometheus to have the bytes", || {
        let rows = prom.query("unclosed_bytes_total")?;
        same(rows.iter().map(|r| r.1).collect(), &vec![bytes as f64])
    });
    let up = prom.query("up{job=\"unclosed\"}").unwrap();
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0].1, 1.0);

    // promtool accepts the text exposition (it reads no OpenMetrics: Prometheus, which asks
    // for OpenMetrics first, read that above).
    let (_, body) = get(&tail.addr, "/metrics", None).unwrap();
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let accept = "application/openmetrics-text; version=1.0.0";
    let (_, open) = get(&tail.addr, "/metrics", Some(accept)).unwrap();
    assert!(open.ends_with("# EOF\n") && open.contains("# TYPE unclosed_findings counter"));
    let (status, body) = get(&tail.addr, "/healthz", None).unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert_eq!(get(&tail.addr, "/nothing", None).unwrap().0, 404);

    // The NDJSON findings name the pods too.
    let pods: BTreeSet<(String, String, String)> = tail
        .out
        .try_iter()
        .filter(|f| f["type"] == "finding")
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("-").to_owned();
            (s("namespace"), s("pod"), s("container"))
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = [
        ("shop", "api-7d9f8b-x2kq", "web"),
        ("jobs", "worker-5c6d", "main"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
    .collect();
    assert_eq!(pods, want);
}

#[test]
fn rotation_and_pods_coming_and_going_keep_counters_monotonic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (tail, a, b, mut seen) = following_kubelet_files(dir);
    let block = fixture("percall_debug_bare.log");
    let per_copy = 7.0; // samples/logs/percall_debug_bare.truth.json: 7 findings
    let total_findings = |want: f64, seen: &mut BTreeMap<String, f64>| {
        tail.until_findings(seen, want);
    };

    append(&b, &block);
    total_findings(per_copy, &mut seen);

    // The kubelet's rotation: the file renamed, a new one at the path.
    std::fs::rename(&b, b.with_file_name("0.log.20261130-035500")).unwrap();
    append(&b, &block);
    total_findings(2.0 * per_copy, &mut seen);

    // copytruncate: copied, then emptied in place (tail notices), then written again.
    append(&a, &block);
    total_findings(3.0 * per_copy, &mut seen);
    std::fs::copy(&a, dir.join("containers/copy.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&a)
        .unwrap()
        .set_len(0)
        .unwrap();
    let truncated = "unclosed_follow_errors_total{reason=\"truncated\"}";
    tail.until(&mut seen, truncated, 1.0);
    append(&a, &block);
    total_findings(4.0 * per_copy, &mut seen);

    // A new pod's file appears: followed.
    let c_dir = dir.join("pods/shop_cart-77aa_11111111-2222-3333-4444-555555555555/app");
    std::fs::create_dir_all(&c_dir).unwrap();
    append(&c_dir.join("0.log"), &block);
    tail.until(&mut seen, "unclosed_files_followed", 3.0);
    total_findings(5.0 * per_copy, &mut seen);

    // A pod deleted: its files go; the gauge follows, its counters stay.
    std::fs::remove_dir_all(dir.join("pods/jobs_worker-5c6d_0d1c2b3a-4e5f-6789-abcd-ef0123456789"))
        .unwrap();
    tail.until(&mut seen, "unclosed_files_followed", 2.0);
    total_findings(5.0 * per_copy, &mut seen);
    let m = tail.metrics().unwrap();
    monotonic(&mut seen, &m);
    assert_eq!(m[truncated], 1.0);
    // Its files are let go once quiet (the kubelet removed them: the disk space is freed).
    let fds = format!("/proc/{}/fd", tail.child.id());
    wait_until("tail to close the deleted pod's files", || {
        let open: Vec<PathBuf> = std::fs::read_dir(&fds)
            .map_err(|e| e.to_string())?
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter(|t| t.to_string_lossy().contains("worker-5c6d"))
            .collect();
        same(open, &vec![])
    });
    // Everything read, and nothing twice: the bytes are every byte written.
    let written = 5 * block.len();
    assert_eq!(m["unclosed_bytes_total"], written as f64);
}

/// `scan`, `filter` and `run` reading live: their metrics grow while the input is open.
#[test]
fn scan_filter_and_run_serve_metrics_while_reading_live() {
    let block = fixture("percall_debug_bare.log");
    let path = common::samples().join("percall_debug_bare.log");
    let cat = format!("cat '{}'; read _", path.display());
    let commands: [&[&str]; 3] = [
        &["scan", "-f", "ndjson"],
        &["filter"],
        &["run", "--", "sh", "-c", &cat],
    ];
    for args in commands {
        let mut child = Command::new(bin())
            .args(&args[..1])
            .arg("--metrics=127.0.0.1:0")
            .args(&args[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let addr = common::metrics_address(&mut err, &format!("{args:?}"));
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        let mut stdin = child.stdin.take().unwrap();
        if args[0] != "run" {
            stdin.write_all(&block).unwrap();
        }
        // Read and decided while the input is still open (flushed when it went quiet).
        wait_until(&format!("{args:?}: 7 findings"), || {
            let (_, body) = get(&addr, "/metrics", None).ok_or("no answer")?;
            let m = samples(&body);
            same(
                (findings_sum(&m), m.get("unclosed_bytes_total").copied()),
                &(7.0, Some(block.len() as f64)),
            )
        });
        drop(stdin);
        // run's policy fails on the leaks (exit status 1), as without --metrics.
        let want = if args[0] == "run" { 1 } else { 0 };
        assert_eq!(child.wait().unwrap().code(), Some(want), "{args:?}");
    }
}

/// A file that was quiet a long while before it was rotated away is still read to its end:
/// its quiet is counted from when it left the path, not from its last bytes (the handle of a
/// file gone from the path is let go only once it has been quiet that long since).
#[test]
fn a_file_rotated_after_a_quiet_spell_is_read_to_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (tail, _, b, mut seen) = following_kubelet_files(dir);
    let block = fixture("percall_debug_bare.log");
    append(&b, &block);
    tail.until_findings(&mut seen, 7.0);
    // Quiet longer than tail's linger (5 s), then rotated; tail sees the path empty.
    std::thread::sleep(Duration::from_secs(6));
    let rotated = b.with_file_name("0.log.20261130-035500");
    std::fs::rename(&b, &rotated).unwrap();
    tail.until(&mut seen, "unclosed_files_followed", 1.0);
    // The writer's last words, before it reopens.
    append(&rotated, &block);
    tail.until_findings(&mut seen, 14.0);
}
