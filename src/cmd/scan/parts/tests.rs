//! A file read in parts gives what one thread reading it whole gives, wherever it is cut:
//! every committed fixture, repeated and cut into parts at many places with windows from a
//! few lines to the whole part, and all of them one after another.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use super::{Sizes, read_in_parts};
use crate::cmd::cli::{Format, ReadArgs};
use crate::cmd::printer::Printer;
use crate::cmd::scan::ScanInput;
use crate::cmd::setup::Setup;
use crate::cmd::tally::Tally;
use crate::input::read;
use crate::pipeline::scan::Out;

fn setup() -> Setup {
    Setup::new(&ReadArgs {
        grammar: None,
        grammar_file: Vec::new(),
        skip_frames: Vec::new(),
        in_app: Vec::new(),
        max_line_bytes: read::DEFAULT_MAX_LINE,
        flush_ms: 400,
    })
    .expect("the shipped grammars load")
}

fn json(tally: &Tally) -> String {
    let mut out = Vec::new();
    Printer::new(Format::Json, &mut out, false, None)
        .finish(tally)
        .expect("JSON to a buffer");
    String::from_utf8(out).expect("UTF-8 JSON")
}

/// The report of `path` read whole by one thread.
fn whole(setup: &Setup, path: &Path) -> String {
    let mut tally = Tally::new(setup.rules.clone());
    let i = tally.add_input("log".into());
    let mut input = ScanInput {
        scanner: setup.scanner(),
        tally: &mut tally,
        show: &mut (),
        input: i,
        out: Out::default(),
    };
    let mut r = BufReader::new(File::open(path).expect("the log opens"));
    input
        .read_through(|f| read::read_into(&mut r, setup.max_line, f))
        .expect("the log reads");
    json(&tally)
}

/// The report of `path` read in `parts` parts with joining windows of `window` bytes.
fn in_parts(setup: &Setup, path: &Path, parts: usize, window: u64) -> String {
    let file = File::open(path).expect("the log opens");
    let len = file.metadata().expect("metadata").len();
    let mut tally = Tally::new(setup.rules.clone());
    let i = tally.add_input("log".into());
    let sizes = Sizes {
        min_part: 1,
        window,
    };
    let joined = read_in_parts(&file, len, parts, sizes, setup, &mut tally, i, &mut ());
    assert!(joined.expect("parts read"), "{parts} parts joined");
    json(&tally)
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/logs");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("samples/logs")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs
}

/// Every way of cutting `path` the tests try gives the whole file's report.
fn assert_parts_agree(setup: &Setup, path: &Path, what: &str) {
    let expected = whole(setup, path);
    for parts in [2, 3, 5, 8] {
        for window in [300, 4 << 10, 1 << 30] {
            let got = in_parts(setup, path, parts, window);
            if got != expected {
                let differ: Vec<String> = expected
                    .lines()
                    .zip(got.lines())
                    .enumerate()
                    .filter(|(_, (a, b))| a != b)
                    .take(12)
                    .map(|(n, (a, b))| format!("line {}: whole {a}\n         parts {b}", n + 1))
                    .collect();
                panic!(
                    "{what}: {parts} parts, window {window}: the report differs from reading \
                     it whole ({} lines against {}):\n{}",
                    expected.lines().count(),
                    got.lines().count(),
                    differ.join("\n")
                );
            }
        }
    }
}

#[test]
fn every_fixture_repeated_reads_in_parts_as_it_reads_whole() {
    let setup = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = fixtures();
    assert!(logs.len() > 40, "the fixtures are there");
    for log in logs {
        let text = std::fs::read(&log).expect("fixture reads");
        // Enough copies that every part holds several blocks and cuts fall inside them.
        let copies = (48 * 1024 / text.len().max(1)).clamp(3, 12);
        let path = dir.path().join("repeated.log");
        let mut f = File::create(&path).expect("temp log");
        for _ in 0..copies {
            f.write_all(&text).expect("write");
        }
        drop(f);
        let name = log.file_name().map(|n| n.to_string_lossy().into_owned());
        assert_parts_agree(&setup, &path, &name.unwrap_or_default());
    }
}

#[test]
fn all_fixtures_one_after_another_read_in_parts_as_they_read_whole() {
    let setup = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("all.log");
    let mut f = File::create(&path).expect("temp log");
    for log in fixtures() {
        f.write_all(&std::fs::read(&log).expect("fixture reads"))
            .expect("write");
    }
    drop(f);
    assert_parts_agree(&setup, &path, "all fixtures");
}

#[test]
fn a_log_of_more_streams_than_a_part_may_keep_is_left_to_be_read_whole() {
    // Hand-made: more journald units than half of MAX_STREAMS, each with a warning header.
    use crate::pipeline::scan::MAX_STREAMS;
    let setup = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("units.log");
    let lines: Vec<String> = (0..MAX_STREAMS)
        .map(|i| format!("Nov 23 22:27:48 host app{i}[{i}]: Unclosed client session\n"))
        .collect();
    std::fs::write(&path, lines.concat()).expect("temp log");
    let file = File::open(&path).expect("the log opens");
    let len = file.metadata().expect("metadata").len();
    let mut tally = Tally::new(setup.rules.clone());
    let i = tally.add_input("log".into());
    let sizes = Sizes {
        min_part: 1,
        window: 1 << 30,
    };
    let joined = read_in_parts(&file, len, 2, sizes, &setup, &mut tally, i, &mut ());
    assert!(!joined.expect("parts read"), "not joined");
    assert_eq!(tally.findings, 0, "nothing added");
}

#[test]
fn parts_pay_where_warnings_are_close_together_and_not_where_they_are_far_apart() {
    use super::pays;
    let setup = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let dense = dir.path().join("dense.log");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/logs/aiohttp_retry_percall_debug.log");
    let blocks = std::fs::read(fixture).expect("fixture reads");
    std::fs::write(&dense, blocks.repeat(1 + (1 << 20) / blocks.len())).expect("temp log");
    // Hand-made: ordinary lines with one warning block in the middle.
    let sparse = dir.path().join("sparse.log");
    let ordinary = "2025-06-28 09:43:04,785 INFO app: request served in 12 ms\n".repeat(20_000);
    let text = [ordinary.as_bytes(), &blocks[..], ordinary.as_bytes()].concat();
    std::fs::write(&sparse, text).expect("temp log");
    for (path, expected) in [(&dense, true), (&sparse, false)] {
        let file = File::open(path).expect("the log opens");
        let len = file.metadata().expect("metadata").len();
        let got = pays(&file, len, &setup.prefilter).expect("samples read");
        assert_eq!(got, expected, "{}", path.display());
    }
}

#[test]
fn a_file_shorter_than_two_parts_is_read_whole() {
    let sizes = Sizes::DEFAULT;
    assert_eq!(sizes.parts(sizes.min_part * 2 - 1, 4), 1);
    assert_eq!(sizes.parts(sizes.min_part * 2, 4), 2);
    assert_eq!(sizes.parts(sizes.min_part * 100, 4), 4);
    assert_eq!(sizes.parts(sizes.min_part * 100, 1), 1);
}
