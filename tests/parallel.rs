//! Large files are read by threads ahead of the scan (`--threads`). Whatever the number of
//! threads, the answer must be the one a single thread gives, block for block: these logs
//! are real fixtures repeated past the size where threads start, with ordinary lines of
//! varying length between copies so that blocks and long lines straddle the readers' chunks
//! at every offset.

mod common;
use common::{KEYS, samples, stdout_of};

use std::io::Write;
use std::process::Command;

use serde_json::Value;

fn unclosed(args: &[&str], file: &std::path::Path) -> Vec<u8> {
    stdout_of(
        Command::new(assert_cmd::cargo::cargo_bin("unclosed"))
            .args(args)
            .arg(file),
    )
}

#[test]
fn threads_change_nothing_in_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let samples_of = |name: &str| std::fs::read(samples().join(format!("{name}.log"))).unwrap();
    for (name, label, fixture, filler) in [
        (
            "percall_debug_bare",
            "bare",
            samples_of("percall_debug_bare"),
            "INFO app: request handled",
        ),
        (
            "percall_cri",
            "cri",
            samples_of("percall_cri"),
            "2026-11-23T10:00:00.000000000Z stdout F INFO request handled",
        ),
        (
            "percall_journald_json",
            "journald",
            samples_of("percall_journald_json"),
            r#"{"MESSAGE":"request handled","_PID":"7"}"#,
        ),
        (
            "percall_journald_json",
            "journald byte arrays",
            journald_byte_arrays(&samples_of("percall_journald_json")),
            r#"{"MESSAGE":"request handled","_PID":"7"}"#,
        ),
        (
            "bigpool_docker_json",
            "docker",
            samples_of("bigpool_docker_json"),
            r#"{"log":"request handled\n","stream":"stdout"}"#,
        ),
    ] {
        let truth: Value = serde_json::from_slice(
            &std::fs::read(samples().join(format!("{name}.truth.json"))).unwrap(),
        )
        .unwrap();
        let path = dir.path().join(format!("{}.log", label.replace(' ', "_")));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut copies = 0u64;
        let mut size = 0;
        // Past the 8 MiB where threads start, and some chunks more.
        while size < 12 << 20 {
            f.write_all(&fixture).unwrap();
            size += fixture.len();
            // 1 to 97 filler lines of 1 to 300 bytes: every alignment against the chunks.
            for k in 0..(copies * 31 % 97 + 1) {
                let pad = "x".repeat(((copies * 7 + k * 13) % 300) as usize);
                let line = filler.replace("handled", &format!("handled {pad}"));
                writeln!(f, "{line}").unwrap();
                size += line.len() + 1;
            }
            copies += 1;
        }
        f.flush().unwrap();
        drop(f);

        let one = unclosed(&["scan", "-j", "1", "-f", "list"], &path);
        for threads in ["0", "2", "3"] {
            let many = unclosed(&["scan", "-j", threads, "-f", "list"], &path);
            assert!(
                one == many,
                "{label}: -j {threads} reports otherwise than -j 1:\n{}",
                String::from_utf8_lossy(&many)
            );
        }
        let json: Value =
            serde_json::from_slice(&unclosed(&["scan", "-f", "json"], &path)).unwrap();
        for k in KEYS {
            assert_eq!(
                json["totals"][k].as_u64().unwrap(),
                copies * truth["totals"][k].as_u64().unwrap(),
                "{label}: {k} over {copies} copies"
            );
        }
    }
}

/// journald writes a message that is not printable UTF-8 as an array of its bytes, which no
/// search for the words of a header sees into: every record's message becomes one here
/// (hand-made from the fixture's records; `journalctl -o json` gives this form for messages
/// with control characters or invalid UTF-8).
fn journald_byte_arrays(log: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in log.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let mut record: serde_json::Map<String, Value> = serde_json::from_slice(line).unwrap();
        if let Some(Value::String(m)) = record.get("MESSAGE") {
            let bytes = m.bytes().map(Value::from).collect();
            record.insert("MESSAGE".into(), Value::Array(bytes));
        }
        out.extend(serde_json::to_vec(&record).unwrap());
        out.push(b'\n');
    }
    out
}
