#!/usr/bin/env python3
"""What `unclosed tail` costs following a glob of many files that are all being written.

usage: python3 bench/tail_glob.py [--files 200] [--rate-mb 1.76] [--seconds 10] [--bin PATH]
                                 [--pid-file PATH] [-- TAIL-OPTIONS...]

Makes FILES empty files in a temporary directory, starts `unclosed tail -f ndjson 'DIR/*.log'`
(plus TAIL-OPTIONS, e.g. `--poll`), then appends the lines of a committed fixture
(samples/logs/percall_debug_bare.log, real aiohttp output: 7 leaks, 15 pooled connections per
copy) to the files round-robin, one line per write(2), at RATE MB/s for SECONDS. It prints the
CPU time `tail` used while the files were written (user + system, from /proc), as a share of one
core, and checks that `tail` saw every line and object that was written (sessions, connectors,
pooled connections), so a fast run that drops events does not pass for a cheap one.

The binary is target/release/unclosed (built first) unless --bin says otherwise; --pid-file
writes tail's process id there (to profile it: `perf record -g -p PID`). Linux only.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURE = os.path.join(ROOT, "samples", "logs", "percall_debug_bare.log")


def arg(name, default):
    own = sys.argv[: sys.argv.index("--")] if "--" in sys.argv else sys.argv
    return type(default)(own[own.index(name) + 1]) if name in own else default


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line (11 and 12 after the name).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    files = arg("--files", 200)
    rate = arg("--rate-mb", 1.76) * 1e6
    seconds = arg("--seconds", 10.0)
    unclosed = arg("--bin", "")
    extra = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
    if not unclosed:
        subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
        unclosed = os.path.join(ROOT, "target", "release", "unclosed")
    lines = open(FIXTURE, "rb").read().splitlines(keepends=True)
    d = tempfile.mkdtemp(prefix="tail-glob-")
    try:
        paths = [os.path.join(d, f"app-{i:03}.log") for i in range(files)]
        for p in paths:
            open(p, "wb").close()
        out_path = os.path.join(d, "tail.out")
        with open(out_path, "wb") as out:
            tail = subprocess.Popen(
                [unclosed, "tail", "-f", "ndjson", *extra, os.path.join(d, "*.log")],
                stdout=out,
                stderr=subprocess.DEVNULL,
            )
            if arg("--pid-file", ""):
                with open(arg("--pid-file", ""), "w") as f:
                    f.write(str(tail.pid))
            time.sleep(1.0)
            fds = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in paths]
            # Each file gets whole copies of the fixture, so its truth is known: file i is on
            # line next[i] of its current copy.
            next_line = [0] * files
            copies = [0] * files
            written = 0
            nbytes = 0
            cpu0, t0 = cpu_seconds(tail.pid), time.monotonic()
            f = 0
            while True:
                elapsed = time.monotonic() - t0
                if elapsed >= seconds:
                    break
                # Write what the rate allows so far, then sleep a little.
                while nbytes < rate * elapsed:
                    line = lines[next_line[f]]
                    os.write(fds[f], line)
                    nbytes += len(line)
                    written += 1
                    next_line[f] += 1
                    if next_line[f] == len(lines):
                        next_line[f] = 0
                        copies[f] += 1
                    f = (f + 1) % files
                time.sleep(0.005)
            # Finish every copy begun, so each file holds whole copies.
            for i in range(files):
                if next_line[i]:
                    for line in lines[next_line[i] :]:
                        os.write(fds[i], line)
                        written += 1
                        nbytes += len(line)
                    copies[i] += 1
            wall = time.monotonic() - t0
            cpu = cpu_seconds(tail.pid) - cpu0
            for fd in fds:
                os.close(fd)
            time.sleep(2.0)
            tail.send_signal(signal.SIGINT)
            tail.wait(timeout=60)
        summary = json.loads(open(out_path, "rb").read().splitlines()[-1])
    finally:
        shutil.rmtree(d)
    t = summary["totals"]
    n = sum(copies)
    seen = sum(i["lines"] for i in summary["inputs"])
    print(f"tail {' '.join(extra) or '(inotify)'}: {files} files, {nbytes / wall / 1e6:.2f} MB/s for {wall:.1f} s")
    print(f"  CPU {cpu:.2f} s = {100 * cpu / wall:.1f}% of a core")
    print(f"  lines {seen}/{written}, sessions {t['sessions']}/{7 * n}, connectors {t['connectors']}/{7 * n}, pooled {t['pooled_connections']}/{15 * n}")
    ok = (seen, t["sessions"], t["connectors"], t["pooled_connections"]) == (written, 7 * n, 7 * n, 15 * n)
    if not ok:
        print("  MISMATCH: tail did not see what was written")
        sys.exit(1)


if __name__ == "__main__":
    main()
