use super::*;
use std::io::Write;

fn append(path: &Path, text: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text).unwrap();
}

/// Reads what is new at `path` with `r`: the bytes, or None when it was truncated.
fn look(r: &mut Reader, path: &Path) -> Option<Vec<u8>> {
    let m = std::fs::metadata(path).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 7];
    let look = r
        .read_new(&m, u64::MAX, &mut buf, &mut |b: &[u8]| -> io::Result<()> {
            got.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
    (look == Look::Read).then_some(got)
}

#[test]
fn a_rewrite_past_the_position_is_a_truncation_an_append_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    append(&p, b"one\ntwo\n");
    let mut r = Reader::open(&p).unwrap();
    assert_eq!(look(&mut r, &p).unwrap(), b"one\ntwo\n");
    assert_eq!(look(&mut r, &p).unwrap(), b"", "nothing new");
    append(&p, b"three\n");
    assert_eq!(look(&mut r, &p).unwrap(), b"three\n");
    // Truncated and written again, longer than before, between two looks.
    std::fs::write(&p, b"ONE\nTWO\nTHREE\nFOUR\n").unwrap();
    assert_eq!(look(&mut r, &p), None);
    r.restart();
    assert_eq!(look(&mut r, &p).unwrap(), b"ONE\nTWO\nTHREE\nFOUR\n");
    // Longer than what is kept of each end: written again with only its first line
    // changed, then with only its last.
    let text: Vec<u8> = (0..2000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    std::fs::write(&p, &text).unwrap();
    assert_eq!(look(&mut r, &p), None);
    r.restart();
    assert_eq!(look(&mut r, &p).unwrap(), text);
    let first = [b"LINE 0\n", &text[7..], b"more\n"].concat();
    std::fs::write(&p, &first).unwrap();
    assert_eq!(look(&mut r, &p), None, "the first bytes differ");
    r.restart();
    assert_eq!(look(&mut r, &p).unwrap(), first);
    let last = [&first[..first.len() - 5], b"MORE\n", b"again\n"].concat();
    std::fs::write(&p, &last).unwrap();
    assert_eq!(
        look(&mut r, &p),
        None,
        "the bytes before the position differ"
    );
    // Shorter than the position.
    std::fs::write(&p, b"x\n").unwrap();
    assert_eq!(look(&mut r, &p), None);
}

#[test]
fn a_look_reads_no_more_than_its_budget_and_the_next_reads_on() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    append(&p, b"0123456789");
    let mut r = Reader::open(&p).unwrap();
    let m = std::fs::metadata(&p).unwrap();
    let mut got = Vec::new();
    let mut take = |b: &[u8]| -> io::Result<()> {
        got.extend_from_slice(b);
        Ok(())
    };
    assert_eq!(
        r.read_new(&m, 4, &mut [0u8; 3], &mut take).unwrap(),
        Look::Read
    );
    assert!(r.has_more());
    // The same metadata: not taken as "nothing changed" while bytes are left.
    assert_eq!(
        r.read_new(&m, 100, &mut [0u8; 3], &mut take).unwrap(),
        Look::Read
    );
    assert!(!r.has_more());
    assert_eq!(got, b"0123456789");
}

/// Waits (generously) until the watches have seen `path`.
fn sees(w: &Watches, path: &Path) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if w.take().paths.contains(path.as_os_str()) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

#[test]
fn a_watched_directory_moved_removed_or_created_again_is_watched_where_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let top = normal(&tmp.path().canonicalize().unwrap());
    let logs = top.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let mut w = Watches::start(tx).expect("inotify");
    w.want(&logs);
    assert!(w.refresh());
    append(&logs.join("app.log"), b"one\n");
    assert!(sees(&w, &logs.join("app.log")));

    // Moved away, and another made at once: the watch goes to the new one.
    std::fs::rename(&logs, top.join("logs.1")).unwrap();
    std::fs::create_dir(&logs).unwrap();
    assert!(w.is_structural(&logs));
    assert!(w.refresh(), "watched again");
    append(&logs.join("app.log"), b"two\n");
    assert!(sees(&w, &logs.join("app.log")));

    // Removed: its parent is watched, and sees it come back.
    std::fs::remove_dir_all(&logs).unwrap();
    assert!(w.refresh());
    std::fs::create_dir(&logs).unwrap();
    assert!(sees(&w, &logs), "the directory's return");
    assert!(w.refresh());
    append(&logs.join("app.log"), b"three\n");
    assert!(sees(&w, &logs.join("app.log")));
    assert!(!w.refresh(), "nothing changed since");
}

#[test]
fn the_copy_is_found_by_its_bytes_and_read_on_from_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    let text: Vec<u8> = (0..2000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    append(&p, &text[..6000]);
    let mut r = Reader::open(&p).unwrap();
    look(&mut r, &p).unwrap();
    append(&p, &text[6000..]);
    // An older rotation with the same start, and a file of other text, beside the copy.
    let older = [&text[..5000], &[b'y'; 3000][..]].concat();
    std::fs::write(dir.path().join("app.log.2"), older).unwrap();
    std::fs::write(dir.path().join("other.log"), vec![b'x'; text.len()]).unwrap();
    std::fs::copy(&p, dir.path().join("app.log.1")).unwrap();
    std::fs::write(&p, b"").unwrap();
    assert_eq!(look(&mut r, &p), None);
    let (mut copy, name) = r.find_copy(dir.path(), &|_| false).expect("the copy");
    assert_eq!(name, dir.path().join("app.log.1"));
    let at = dir.path().join("app.log.1");
    assert_eq!(look(&mut copy, &at).unwrap(), &text[6000..]);
    assert!(r.find_copy(dir.path(), &|p| p == at).is_none(), "skipped");
}
