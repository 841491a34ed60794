//! The benchmark's logs, generated small (bench/gen.py --scale 0.02): `scan` must count on
//! them exactly what the fixtures' truth adds up to. Counts only; speed is for bench/run.py.

mod common;
use common::KEYS;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[test]
fn the_benchmark_logs_count_what_their_fixtures_add_up_to() {
    let dir = tempfile::tempdir().unwrap();
    let generator = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/gen.py");
    let status = Command::new("python3")
        .arg(&generator)
        .arg(dir.path())
        .args(["--scale", "0.02"])
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "python3 bench/gen.py failed (python3 is needed for this test)"
    );
    for log in ["sparse.log", "dense.log", "cri.log"] {
        let path = dir.path().join(log);
        let truth: Value = serde_json::from_slice(
            &std::fs::read(format!("{}.truth.json", path.display())).unwrap(),
        )
        .unwrap();
        let out = Command::new(assert_cmd::cargo::cargo_bin("unclosed"))
            .args(["scan", "-f", "json"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success());
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        for k in KEYS {
            assert_eq!(got["totals"][k], truth["totals"][k], "{log}: {k}");
        }
        assert!(
            truth["totals"]["findings"].as_u64().unwrap() > 0,
            "{log} has episodes"
        );
        // The same through a pipe (the live path, with bulk skipping of its own).
        let piped = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "'{}' scan -f json < '{}'",
                assert_cmd::cargo::cargo_bin("unclosed").display(),
                path.display()
            ))
            .output()
            .unwrap();
        let piped: Value = serde_json::from_slice(&piped.stdout).unwrap();
        assert_eq!(piped["totals"], got["totals"], "{log}: pipe and file agree");
        assert_eq!(
            piped["inputs"][0]["lines"], got["inputs"][0]["lines"],
            "{log}: lines counted alike"
        );
    }
}
