use super::*;
use crate::pipeline::envelope::Grammar;
use crate::pipeline::group::{SiteRules, triage};
use crate::pipeline::pair::Decided;
use crate::pipeline::scan::{Out, Prefilter, Scanner};

/// What a finding comes to, to compare a live run with a file's.
type Seen = (String, u64, u64, u64, bool);

struct Collect<'g> {
    scanner: Scanner<'g>,
    out: Out,
    seen: Vec<Seen>,
}

impl Collect<'_> {
    fn take(&mut self) {
        for d in self.out.decided.drain(..) {
            if let Decided::Finding(f) = d {
                let t = triage(&f, 0, &SiteRules::default());
                let site = t.site.as_ref().map_or(0, |s| u64::from(s.line));
                self.seen.push((
                    t.label.name().to_owned(),
                    t.pooled_connections,
                    t.sessions + t.connectors,
                    site,
                    t.truncated,
                ));
            }
        }
        self.out.free.clear();
    }
}

impl Consumer for Collect<'_> {
    fn line(&mut self, _raw: &[u8], line: &[u8], info: LineInfo) -> anyhow::Result<()> {
        self.scanner.push_line(line, info, &mut self.out);
        self.take();
        Ok(())
    }
}

impl Held for Collect<'_> {
    fn oldest_held(&self) -> Option<u64> {
        self.scanner.oldest_held()
    }
    fn flush(&mut self) -> anyhow::Result<()> {
        self.scanner.finish(&mut self.out);
        self.take();
        Ok(())
    }
    fn holding_streams(&self) -> Vec<(String, u64)> {
        self.scanner.holding_streams()
    }
    fn flush_stream(&mut self, key: &str) -> anyhow::Result<()> {
        self.scanner.finish_stream(key, &mut self.out);
        self.take();
        Ok(())
    }
}

fn grammar(grammars: &[Grammar], name: &str) -> Option<usize> {
    grammars.iter().position(|g| g.name == name)
}

fn collect<'g>(grammars: &'g [Grammar], pre: &'g Prefilter, forced: &str) -> Collect<'g> {
    Collect {
        scanner: Scanner::new(grammars, grammar(grammars, forced), pre),
        out: Out::default(),
        seen: Vec::new(),
    }
}

/// The findings of `lines` read as a file: all at once, decided at the end.
fn from_file(lines: &[(u64, String)], forced: &str) -> Vec<Seen> {
    let (grammars, pre) = (Grammar::builtin(), Prefilter::default());
    let mut c = collect(&grammars, &pre, forced);
    let mut splitter = Splitter::new(1 << 20);
    let text: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    splitter
        .push(text.as_bytes(), &mut |raw: &[u8], line: &[u8], info| {
            c.line(raw, line, info)
        })
        .unwrap();
    c.flush().unwrap();
    c.seen.sort();
    c.seen
}

/// The findings of `lines` written live, each at its time in milliseconds, with the
/// flush timeout `flush_ms`; tokio's clock is paused, so the times are exact.
async fn live(lines: &[(u64, String)], forced: &str, flush_ms: u64) -> Vec<Seen> {
    let (grammars, pre) = (Grammar::builtin(), Prefilter::default());
    let mut c = collect(&grammars, &pre, forced);
    let (tx, rx) = mpsc::channel(16);
    let start = Instant::now();
    let schedule: Vec<(u64, String)> = lines.to_vec();
    let writer = async move {
        for (at, line) in schedule {
            tokio::time::sleep_until(start + Duration::from_millis(at)).await;
            tx.send(Ok(format!("{line}\n").into_bytes().into()))
                .await
                .unwrap();
        }
        // Input stays open a while after the last line, as a live stream does.
        tokio::time::sleep(Duration::from_secs(60)).await;
    };
    let reader = drive_async(rx, &mut c, 1 << 20, Duration::from_millis(flush_ms));
    tokio::select! {
        r = reader => { r.unwrap(); }
        _ = writer => {}
    }
    c.flush().unwrap();
    c.seen.sort();
    c.seen
}

fn cri(stream: &str, text: &str) -> String {
    format!("2026-11-23T22:27:48.367084394Z {stream} F {text}")
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

#[tokio::test(start_paused = true)]
async fn a_quiet_stream_does_not_cut_a_block_arriving_on_another() {
    // The session on stderr at 0 s; its connector on stdout at 0.7, 1.2 and 1.3 s; a
    // one-second flush. stderr goes quiet at 1 s while stdout's block is half read.
    let mut lines = vec![
        (0, cri("stderr", SESSION[0])),
        (0, cri("stderr", SESSION[1])),
        (700, cri("stdout", CONNECTOR[0])),
        (1200, cri("stdout", CONNECTOR[1])),
        (1300, cri("stdout", CONNECTOR[2])),
    ];
    lines.push((1400, cri("stdout", "INFO after")));
    let want = from_file(&lines, "cri");
    assert!(want.iter().any(|s| s.0 == "leak" && s.1 == 1), "{want:?}");
    assert_eq!(live(&lines, "cri", 1000).await, want);
}

#[tokio::test(start_paused = true)]
async fn a_block_written_a_line_every_10_ms_is_not_cut() {
    // A block with a creation traceback, one line every 10 ms: 30 lines, 300 ms, longer
    // than the 100 ms flush timeout but never quiet that long.
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
    let lines: Vec<(u64, String)> = text
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i as u64 * 10, l))
        .collect();
    let want = from_file(&lines, "bare");
    assert_eq!(want.len(), 1, "{want:?}");
    assert_eq!(want[0].0, "leak");
    assert_eq!(want[0].3, 42, "the call site");
    assert_eq!(live(&lines, "bare", 100).await, want);
}

#[tokio::test(start_paused = true)]
async fn a_pause_in_the_middle_of_a_traceback_gives_no_call_site() {
    // The writer stops for 2 s after a frame's `File` line, before its code: with a
    // 400 ms flush the block is decided without its innermost frame, so it names no call
    // site (never an outer frame as if it were the site) and says it was cut.
    let mut lines: Vec<(u64, String)> = vec![
        (0, SESSION[0].to_owned()),
        (0, SESSION[1].to_owned()),
        (
            0,
            "source_traceback: Object created at (most recent call last):".to_owned(),
        ),
        (0, "  File \"/app/main.py\", line 10, in main".to_owned()),
        (0, "    run()".to_owned()),
        (0, "  File \"/app/jobs.py\", line 20, in run".to_owned()),
    ];
    lines.push((2000, "    fetch()".to_owned()));
    lines.push((
        2000,
        "  File \"/app/client.py\", line 42, in fetch".to_owned(),
    ));
    lines.push((2000, "    s = aiohttp.ClientSession()".to_owned()));
    let got = live(&lines, "bare", 400).await;
    let first = got.iter().find(|s| s.2 == 1).expect("the session");
    assert_eq!(first.3, 0, "no call site from a cut traceback: {got:?}");
    assert!(first.4, "marked truncated: {got:?}");
    // The same bytes without the pause give the real site.
    let whole: Vec<(u64, String)> = lines.iter().map(|(_, l)| (0, l.clone())).collect();
    assert_eq!(from_file(&whole, "bare")[0].3, 42);
}
