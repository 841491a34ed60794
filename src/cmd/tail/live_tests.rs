//! `tail` in-process: its loop under tokio's paused clock, so the times lines are written
//! at are exact, and what it tells on its `Io`.

use std::io::Write as _;
use std::path::Path;

use clap::Parser;
use serde_json::Value;

use super::*;
use crate::cmd::cli::{Cli, Command};
use crate::cmd::io::Env;

fn parse(args: &[&str]) -> Command {
    Cli::try_parse_from(std::iter::once("unclosed").chain(args.iter().copied()))
        .expect("arguments parse")
        .command
}

fn tail_args(args: &[&str]) -> TailArgs {
    match parse(&[&["tail"], args].concat()) {
        Command::Tail(a) => a,
        _ => unreachable!(),
    }
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// The finding lines of NDJSON output, sorted.
fn findings(ndjson: &[u8]) -> Vec<Value> {
    let mut v: Vec<Value> = String::from_utf8_lossy(ndjson)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "finding")
        .collect();
    v.sort_by_key(|v| v.to_string());
    v
}

/// What `scan -f ndjson --grammar bare` finds in each file's bytes, read to their end.
fn scanned(files: &[&Path]) -> Vec<Value> {
    let mut all = Vec::new();
    for f in files {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut io = Io {
            out: &mut out,
            err: &mut err,
            env: Env::default(),
        };
        let code = crate::cmd::execute(
            parse(&[
                "scan",
                "-f",
                "ndjson",
                "--grammar",
                "bare",
                &f.to_string_lossy(),
            ]),
            &mut io,
        );
        assert_eq!(code, exit::OK, "{}", String::from_utf8_lossy(&err));
        all.extend(findings(&out));
    }
    all.sort_by_key(|v| v.to_string());
    all
}

/// Runs `tail -f ndjson --poll --poll-ms 10 ARGS` while `schedule` is written (each line
/// appended to its file at its time in milliseconds), then for 5 s more; returns what it
/// printed and told by then, before it ends (what it decided live).
async fn follow_while(args: &[&str], schedule: &[(u64, &Path, String)]) -> (Vec<u8>, String) {
    let args = tail_args(&[&["-f", "ndjson", "--poll", "--poll-ms", "10"], args].concat());
    let setup = Setup::new(&args.read).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    {
        let mut io = Io {
            out: &mut out,
            err: &mut err,
            env: Env::default(),
        };
        let start = Instant::now();
        let writer = async {
            for (at, file, line) in schedule {
                tokio::time::sleep_until(start + Duration::from_millis(*at)).await;
                append(file, &format!("{line}\n"));
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        };
        tokio::select! {
            // tail first: it has looked at what is there before anything is written.
            biased;
            r = follow(&args, &setup, &mut io) => panic!("tail ended by itself: {r:?}"),
            _ = writer => {}
        }
    }
    (out, String::from_utf8(err).unwrap())
}

const SESSION: [&str; 2] = [
    "Unclosed client session",
    "client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>",
];
const CONNECTOR: [&str; 3] = [
    "Unclosed connector",
    "connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1b>, 2092.40)])']",
    "connector: <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>",
];

/// Two files: `quiet.log` gets a session at 0 s and nothing after (undecided until it has
/// been quiet for the flush timeout); `busy.log` gets `busy` line by line meanwhile. Every
/// finding tail prints while following is the one `scan` gives for the same file's bytes.
/// (Read as `bare` lines: an envelope still being detected would hold every line until the
/// whole file is quiet, and the streams' clocks would not be tried.)
async fn check_two_files(busy: Vec<(u64, String)>, flush_ms: u64) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let (quiet, noisy) = (dir.path().join("quiet.log"), dir.path().join("busy.log"));
    append(&quiet, "");
    append(&noisy, "");
    let mut schedule: Vec<(u64, &Path, String)> = SESSION
        .iter()
        .map(|l| (0, quiet.as_path(), (*l).to_owned()))
        .collect();
    schedule.extend(busy.into_iter().map(|(at, l)| (at, noisy.as_path(), l)));
    schedule.sort_by_key(|s| s.0);
    let flush = flush_ms.to_string();
    let (out, err) = follow_while(
        &[
            "--grammar",
            "bare",
            "--flush-ms",
            &flush,
            &quiet.to_string_lossy(),
            &noisy.to_string_lossy(),
        ],
        &schedule,
    )
    .await;
    assert_eq!(err, "");
    let want = scanned(&[&quiet, &noisy]);
    assert_eq!(findings(&out), want);
    want
}

#[tokio::test(start_paused = true)]
async fn a_quiet_file_does_not_cut_a_block_arriving_on_another() {
    // The session in quiet.log at 0 s; a connector in busy.log at 0.7, 1.2 and 1.3 s; a
    // one-second flush: quiet.log is due at 1 s, while busy.log's block is half written.
    let busy = vec![
        (700, CONNECTOR[0].to_owned()),
        (1200, CONNECTOR[1].to_owned()),
        (1300, CONNECTOR[2].to_owned()),
        (1400, "INFO after".to_owned()),
    ];
    let want = check_two_files(busy, 1000).await;
    assert!(
        want.iter()
            .any(|f| f["label"] == "leak" && f["pooled_connections"] == 1),
        "{want:?}"
    );
    assert_eq!(want.len(), 2, "{want:?}");
}

#[tokio::test(start_paused = true)]
async fn a_block_written_a_line_every_10_ms_is_not_cut_by_another_files_quiet() {
    // A block with a creation traceback, a line every 10 ms from 50 ms: 33 lines, longer
    // than the 100 ms flush timeout; quiet.log is due at 100 ms, in the middle of it.
    let mut text = vec![
        SESSION[0].to_owned(),
        SESSION[1].to_owned(),
        "source_traceback: Object created at (most recent call last):".to_owned(),
    ];
    for i in 0..12 {
        text.push(format!("  File \"/app/m{i}.py\", line {}, in f{i}", i + 1));
        text.push(format!("    f{}()", i + 1));
    }
    text.push("  File \"/app/client.py\", line 42, in fetch".to_owned());
    text.push("    s = aiohttp.ClientSession()".to_owned());
    text.extend(CONNECTOR.iter().map(|l| (*l).to_owned()));
    text.push("INFO after".to_owned());
    let busy = text
        .into_iter()
        .enumerate()
        .map(|(i, l)| (50 + i as u64 * 10, l))
        .collect();
    let want = check_two_files(busy, 100).await;
    assert!(
        want.iter().any(|f| f["label"] == "leak" && f["line"] == 42),
        "{want:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn what_tail_tells_at_the_start_goes_to_its_err() {
    let dir = tempfile::tempdir().unwrap();
    let glob = format!("{}/*.log", dir.path().display());
    let missing = dir.path().join("app.log").display().to_string();
    let (out, err) = follow_while(&[&glob, &missing], &[]).await;
    assert_eq!(
        err,
        format!(
            "unclosed: {glob}: no file matches yet; following files that match when they appear\n\
             unclosed: {missing}: no such file yet; following it when it appears\n"
        )
    );
    assert!(out.is_empty());
}

#[test]
fn a_file_there_at_the_start_is_read_from_where_it_ended_then_not_from_the_first_look() {
    // Lines written after tail started and before its first look at the file (its watches
    // and timer are set up in between; slow on a loaded machine) are read.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "INFO before tail started\n");
    let args = tail_args(&["-f", "ndjson", &log.to_string_lossy()]);
    let setup = Setup::new(&args.read).unwrap();
    let mut out = Vec::new();
    let mut sink = Sink {
        tally: Tally::new(setup.rules.clone()),
        printer: Printer::new(Format::Ndjson, &mut out, false, None),
    };
    let mut tail = Tail::new(&setup, &args.patterns, false).unwrap();
    assert!(tail.discover(&mut sink, true).unwrap().is_empty());
    append(
        &log,
        &format!("{}\n{}\nINFO after\n", SESSION[0], SESSION[1]),
    );
    tail.look_all(&mut sink).unwrap();
    for f in &mut tail.files {
        f.end(&mut sink).unwrap();
    }
    drop(sink);
    let got = findings(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0]["input_line"], 2,
        "the line number counts the line skipped"
    );
}
