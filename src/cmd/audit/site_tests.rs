//! `scan`/`check --audit PATH`, run in-process on the fixtures' own programs (samples/gen)
//! and their logs (samples/logs): each call site carries the verdict of the construction
//! the audit found at its line.

use std::path::PathBuf;

use serde_json::Value;

use crate::cmd::Env;
use crate::cmd::in_process;

fn unclosed(args: &[&str]) -> (i32, String, String) {
    let r = in_process::run_with(Env::default(), args);
    (r.code, r.out, r.err)
}

fn json(args: &[&str]) -> Value {
    let (_, out, err) = unclosed(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"))
}

fn repo(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

/// `(line, verdict)` of each construction a site's `audit` lists (`None`: `null`).
fn said(site: &Value) -> Option<Vec<(u64, String)>> {
    let list = site["audit"].as_array()?;
    Some(
        list.iter()
            .map(|c| (c["line"].as_u64().unwrap(), c["verdict"].to_string()))
            .collect(),
    )
}

#[test]
fn scan_and_check_show_each_sites_audit_verdict() {
    // Each site the truth records: the constructions `audit` finds at its line in the
    // program that wrote the log, with their verdicts; `null` where none is (connection.py:25
    // is a raw connection).
    let fixtures = [
        "percall_debug_bare",
        "asyncio_run_debug",
        "list_shared_debug",
        "connection_debug_wdefault",
        "noise_basic_debug",
    ];
    let (mut with, mut without) = (0, 0);
    for name in fixtures {
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(repo(&format!("samples/logs/{name}.truth.json"))).unwrap(),
        )
        .unwrap();
        let script = repo(truth["script"].as_str().unwrap());
        let log = repo(&format!("samples/logs/{name}.log"));
        let audit = json(&["audit", "--fail-on", "none", "-f", "json", &script]);
        let constructions = audit["constructions"].as_array().unwrap();
        let scan = json(&["scan", "-f", "json", "--audit", &script, &log]);
        let check = json(&[
            "check",
            "-f",
            "json",
            "--fail-on",
            "any",
            "--audit",
            &script,
            &log,
        ]);
        for site in truth["sites"].as_array().unwrap() {
            let key = site["site"].as_str().unwrap();
            let line: u64 = key.rsplit_once(':').unwrap().1.parse().unwrap();
            let want: Vec<(u64, String)> = constructions
                .iter()
                .filter(|c| c["line"] == line)
                .map(|c| (line, c["verdict"].to_string()))
                .collect();
            for report in [&scan, &check] {
                let got = report["sites"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["site"] == key)
                    .unwrap_or_else(|| panic!("{name}: no site {key}"));
                if want.is_empty() {
                    assert!(got["audit"].is_null(), "{name}: {got}");
                } else {
                    assert_eq!(said(got), Some(want.clone()), "{name}: {got}");
                }
            }
            if want.is_empty() {
                without += 1;
            } else {
                with += 1;
            }
        }
    }
    assert_eq!((with, without), (10, 1));
}

#[test]
fn the_table_and_markdown_say_each_sites_verdict_and_no_audit_leaves_the_json_as_it_was() {
    let script = repo("samples/gen/percall.py");
    let log = repo("samples/logs/percall_debug_bare.log");
    let (code, out, err) = unclosed(&["scan", "--audit", &script, &log]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "/app/percall.py:26  per_call (ClientSession at line 26, local session in fetch_price)"
        ),
        "{out}"
    );
    let (_, out, _) = unclosed(&["check", "--audit", &script, &log]);
    assert!(
        out.contains("/app/percall.py:34  per_call (ClientSession at line 34"),
        "{out}"
    );
    let (_, md, _) = unclosed(&["check", "-f", "markdown", "--audit", &script, &log]);
    assert!(
        md.contains(
            "&#58;26 | per_call (ClientSession at line 26, local session in fetch&#95;price) |"
        ),
        "{md}"
    );
    let plain = json(&["scan", "-f", "json", &log]);
    assert!(plain["sites"][0].get("audit").is_none(), "{plain}");
}

#[test]
fn an_audit_path_that_does_not_exist_is_an_error_and_the_log_is_still_reported() {
    let log = repo("samples/logs/percall_debug_bare.log");
    let (code, out, err) = unclosed(&["scan", "-f", "json", "--audit", "/nonexistent/src", &log]);
    assert_eq!(code, crate::exit::ERROR, "{err}");
    assert!(err.contains("/nonexistent/src"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["sites"][0]["audit"].is_null(), "{v}");
}
