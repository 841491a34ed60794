//! Memory stays bounded on a long stream (its own test binary, so that the peak resident
//! size of waited-for children is this test's alone). Speed is for the benchmarks.

use std::io::Write;
use std::process::{Command, Stdio};

/// A stream of `blocks` leak blocks, each with a creation traceback at a distinct line (so
/// the per-site table fills past its cap), between ordinary lines.
fn write_stream(w: &mut impl Write, blocks: usize) -> std::io::Result<()> {
    for i in 0..blocks {
        writeln!(w, "INFO request {i} served in 12ms")?;
        write!(
            w,
            "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7f{i:x}>
source_traceback: Object created at (most recent call last):
  File \"/app/main.py\", line 40, in <module>
    asyncio.run(main())
  File \"/app/handlers.py\", line {i}, in handle
    session = aiohttp.ClientSession()
Unclosed connector
connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2ba0>, 2092.40)])']
connector: <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>
source_traceback: Object created at (most recent call last):
  File \"/app/main.py\", line 40, in <module>
    asyncio.run(main())
  File \"/app/handlers.py\", line {i}, in handle
    session = aiohttp.ClientSession()
  File \"/venv/lib/python3.12/site-packages/aiohttp/client.py\", line 293, in __init__
    connector = TCPConnector(ssl=ssl)
"
        )?;
    }
    Ok(())
}

fn peak_rss_of_children_kib() -> i64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) }, 0);
    u.ru_maxrss
}

#[test]
fn scan_and_filter_stay_within_bounded_memory_on_a_long_stream() {
    const BLOCKS: usize = 60_000; // about 70 MB, 1.2 million lines, 60,000 distinct sites
    let dir = tempfile::tempdir().unwrap();
    let runs = [
        ("scan", &["scan", "-f", "json"][..]),
        ("filter", &["filter", "--stats", "json"][..]),
    ];
    for (name, args) in runs {
        // Reports go to files, read only after both runs: this process must stay small, as
        // a child's peak counts the parent's pages until it has started.
        let report = std::fs::File::create(dir.path().join(name)).unwrap();
        let (out, err) = if name == "scan" {
            (Stdio::from(report), Stdio::inherit())
        } else {
            (Stdio::null(), Stdio::from(report))
        };
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("unclosed"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        let mut stdin = std::io::BufWriter::new(child.stdin.take().unwrap());
        let writer = std::thread::spawn(move || write_stream(&mut stdin, BLOCKS));
        let status = child.wait().unwrap();
        writer.join().unwrap().unwrap();
        assert!(status.success(), "{args:?}");
    }
    let peak_mib = peak_rss_of_children_kib() / 1024;
    for (name, _) in runs {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(name)).unwrap()).unwrap();
        assert_eq!(v["totals"]["findings"], BLOCKS as u64, "{name}");
        assert_eq!(v["totals"]["leak"], BLOCKS as u64, "{name}");
        assert_eq!(
            v["overflow"]["findings"],
            (BLOCKS - 10_000) as u64,
            "{name}"
        );
    }
    // Input is ~70 MB; holding it, or a site per finding, would pass this bound.
    assert!(peak_mib < 40, "peak resident size {peak_mib} MiB");
}
