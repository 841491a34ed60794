//! Every committed fixture (real aiohttp output, see samples/README.md) scanned by the real
//! binary must equal the truth its generating program recorded at GC time.

mod common;
use common::KEYS;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> Vec<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/logs");
    let mut v = Vec::new();
    for e in std::fs::read_dir(&dir).expect("samples/logs exists") {
        let truth = e.unwrap().path();
        let Some(name) = truth
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".truth.json"))
        else {
            continue;
        };
        let log = [".log", ".log.gz"]
            .iter()
            .map(|ext| dir.join(format!("{name}{ext}")))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{name}: truth without a log"));
        v.push((log, truth));
    }
    v.sort();
    v
}

fn scan_json(args: &[&str], stdin: Option<Vec<u8>>) -> Value {
    let mut cmd = Command::cargo_bin("unclosed").unwrap();
    cmd.args(["scan", "--format", "json"]).args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("scan --format json prints JSON")
}

fn counts(v: &Value) -> Vec<(String, u64)> {
    KEYS.iter()
        .map(|k| (k.to_string(), v[k].as_u64().unwrap_or(0)))
        .collect()
}

/// Compares one scan result with the truth; returns what differs.
fn differences(name: &str, truth: &Value, got: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    for field in ["/work/", "/root/", ".pyenv", ".venvs"] {
        let paths: String = got["sites"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| ["file", "outer", "created_in"].map(|k| s[k].to_string()))
            .collect();
        if paths.contains(field) {
            bad.push(format!(
                "{name}: names the machine that generated it ({field})"
            ));
        }
    }
    let unread = got["totals"]["unread_mentions"].as_u64();
    if unread != Some(0) {
        bad.push(format!(
            "{name}: {unread:?} header lines not read as blocks"
        ));
    }
    if counts(&truth["totals"]) != counts(&got["totals"]) {
        bad.push(format!(
            "{name}: totals {:?}, truth {:?}",
            counts(&got["totals"]),
            counts(&truth["totals"])
        ));
    }
    if truth["shows_sites"].as_bool() != Some(true) {
        // Without tracebacks everything is under "no call site".
        let sites = got["sites"].as_array().unwrap();
        if sites.iter().any(|s| !s["site"].is_null()) {
            bad.push(format!("{name}: sites found in a log without tracebacks"));
        }
        return bad;
    }
    let got_sites = got["sites"].as_array().unwrap();
    let mut rest: Vec<(String, u64)> = counts(&truth["totals"]);
    for s in truth["sites"].as_array().unwrap() {
        let key = s["site"].as_str().unwrap();
        match got_sites.iter().find(|g| g["site"].as_str() == Some(key)) {
            None => bad.push(format!("{name}: site {key} not reported")),
            Some(g) => {
                if g["created_in"] != s["created_in"] {
                    bad.push(format!(
                        "{name}: {key} created_in {}, truth {}",
                        g["created_in"], s["created_in"]
                    ));
                }
                for k in KEYS {
                    if let Some(want) = s[k].as_u64()
                        && g[k].as_u64() != Some(want)
                    {
                        bad.push(format!("{name}: {key} {k} = {}, truth {want}", g[k]));
                    }
                }
            }
        }
        for (k, n) in rest.iter_mut() {
            *n -= s[k.as_str()].as_u64().unwrap_or(0);
        }
    }
    // Findings the truth places at no site (a section without tracebacks) group as null.
    let named: Vec<&str> = truth["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["site"].as_str())
        .collect();
    for g in got_sites {
        match g["site"].as_str() {
            Some(k) if !named.contains(&k) => bad.push(format!("{name}: unexpected site {k}")),
            None if counts(g) != rest => bad.push(format!(
                "{name}: no-site group {:?}, truth {rest:?}",
                counts(g)
            )),
            _ => {}
        }
    }
    if rest.iter().any(|(_, n)| *n > 0) && !got_sites.iter().any(|g| g["site"].is_null()) {
        bad.push(format!(
            "{name}: truth has findings without a site, none reported"
        ));
    }
    bad
}

#[test]
fn every_fixture_scans_to_its_recorded_truth() {
    let all = fixtures();
    assert!(
        all.len() >= 20,
        "expected the committed fixtures, found {}",
        all.len()
    );
    let mut bad = Vec::new();
    for (log, truth_path) in &all {
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(truth_path).unwrap()).unwrap();
        let name = log.file_name().unwrap().to_string_lossy().to_string();
        let got = scan_json(&[log.to_str().unwrap()], None);
        bad.extend(differences(&name, &truth, &got));
    }
    assert!(
        bad.is_empty(),
        "{} differences:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn stdin_gives_the_same_answer_as_the_file() {
    for (log, _) in fixtures() {
        let from_file = scan_json(&[log.to_str().unwrap()], None);
        let from_pipe = scan_json(&[], Some(std::fs::read(&log).unwrap()));
        assert_eq!(
            from_file["totals"],
            from_pipe["totals"],
            "{}",
            log.display()
        );
        assert_eq!(
            from_file["sites"].as_array().unwrap().len(),
            from_pipe["sites"].as_array().unwrap().len()
        );
    }
}

#[test]
fn every_fixture_at_once_adds_up() {
    let all = fixtures();
    let args: Vec<&str> = all.iter().map(|(l, _)| l.to_str().unwrap()).collect();
    let got = scan_json(&args, None);
    let mut want = [0u64; KEYS.len()];
    for (_, t) in &all {
        let truth: Value = serde_json::from_str(&std::fs::read_to_string(t).unwrap()).unwrap();
        for (i, k) in KEYS.iter().enumerate() {
            want[i] += truth["totals"][k].as_u64().unwrap_or(0);
        }
    }
    let got: Vec<u64> = KEYS
        .iter()
        .map(|k| got["totals"][k].as_u64().unwrap())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_fixture_cut_in_the_middle_of_a_block_loses_nothing_before_the_cut() {
    // Cut a real connector block inside its `connections:` list.
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/logs/percall_debug_bare.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let at = text.find("connections: [").expect("a connector block")
        + "connections: ['deque([(<aiohttp".len();
    let got = scan_json(&[], Some(text.as_bytes()[..at].to_vec()));
    let t = &got["totals"];
    assert_eq!(t["truncated"], 1, "{t}");
    assert!(
        t["unknown"].as_u64().unwrap() >= 1,
        "the cut connector is unknown: {t}"
    );
}
