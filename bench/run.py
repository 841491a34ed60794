#!/usr/bin/env python3
"""Benchmark `unclosed scan` against ripgrep, grep, `cat | wc -l` and a Python triage (and the
Python line loop that only counts, for scale).

usage: python3 bench/run.py [--scale F] [--runs N] [--data DIR]

Builds the release binary, generates the logs (bench/gen.py) once per scale, runs each
command N times (median wall time) and once more for its peak resident size (wait4), checks
that unclosed's counts equal the fixtures' truth, and prints a Markdown table.
"""
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KEYS = ["findings", "leak", "noise", "unknown", "sessions", "connectors", "responses", "connections", "pooled_connections"]


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def need(tool, package):
    if shutil.which(tool):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {package} from Debian's packages", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, stdout=subprocess.DEVNULL)
    else:
        sys.exit(f"{tool} is needed: apt-get install {package}")


def once(cmd, stdin_file=None, pipe_from=None):
    """Runs cmd (a list); returns (seconds, peak RSS KiB of cmd, stdout). The peak comes
    from /usr/bin/time, a small process: a child forked from this Python would count
    Python's own pages until it execs."""
    feeder = None
    stdin = open(stdin_file, "rb") if stdin_file else None
    if pipe_from:
        feeder = subprocess.Popen(pipe_from, stdout=subprocess.PIPE)
        stdin = feeder.stdout
    rss_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"unclosed-bench-rss-{os.getpid()}")
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if feeder:
        feeder.stdout.close()
    out = p.stdout.read()
    p.wait()
    seconds = time.perf_counter() - t0
    if feeder:
        feeder.wait()
    if stdin_file:
        stdin.close()
    with open(rss_file) as f:
        rss = int(f.read().split()[-1])
    os.unlink(rss_file)
    return seconds, rss, out


def bench(cmd, runs, **kw):
    times, rss, out = [], 0, b""
    for _ in range(runs):
        t, r, out = once(cmd, **kw)
        times.append(t)
        rss = max(rss, r)
    return statistics.median(times), rss, out


def main():
    scale = arg("--scale", 1.0)
    runs = arg("--runs", 5)
    data = arg("--data", os.path.join(ROOT, "target", "bench-data", f"scale-{scale}"))
    need("rg", "ripgrep")
    need("/usr/bin/time", "time")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "unclosed")
    if not os.path.exists(os.path.join(data, "cri.log.truth.json")):
        subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), data, "--scale", str(scale)], check=True)
    py = [sys.executable, os.path.join(HERE, "triage.py")]
    rows, failures = [], []

    def row(log, what, cmd, base=None, runs_=runs, **kw):
        secs, rss, out = bench(cmd, runs_, **kw)
        size = os.path.getsize(os.path.join(data, log))
        rows.append((log, what, secs, size / secs / 1e6, rss, base))
        return secs, out

    for log in ["sparse.log", "dense.log", "cri.log"]:
        path = os.path.join(data, log)
        truth = json.load(open(path + ".truth.json"))["totals"]
        t_unclosed, out = row(log, "`unclosed scan -f json FILE`", [exe, "scan", "-f", "json", path])
        got = json.loads(out)["totals"]
        if any(got[k] != truth[k] for k in KEYS):
            failures.append(f"{log}: {({k: (got[k], truth[k]) for k in KEYS if got[k] != truth[k]})}")
        t_rg_nommap, _ = row(log, "`rg --no-mmap -c -F Unclosed FILE`", ["rg", "--no-mmap", "-c", "-F", "Unclosed", path])
        row(log, "`rg -c -F Unclosed FILE`", ["rg", "-c", "-F", "Unclosed", path])
        row(log, "`grep -c -F Unclosed FILE`", ["grep", "-c", "-F", "Unclosed", path])
        t_pipe, out = row(log, "`cat FILE \\| unclosed scan -f json`", [exe, "scan", "-f", "json"], pipe_from=["cat", path])
        t_wc, _ = row(log, "`cat FILE \\| wc -l`", ["wc", "-l"], pipe_from=["cat", path])
        t_py, _ = row(log, "`python3 bench/triage.py FILE`", py + [path], runs_=max(1, runs // 2))
        row(log, "`python3 bench/triage.py --counts FILE`", py + ["--counts", path], runs_=max(1, runs // 2))
        rows.append((log, "ratios", t_unclosed / t_rg_nommap, t_pipe / t_wc, t_py / t_unclosed, None))

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"Machine: {cpu}, {os.cpu_count()} cores; median of {runs} runs (Python: {max(1, runs // 2)}); page cache warm.\n")
    print("| log | command | median s | MB/s | peak RSS MiB |\n|---|---|---:|---:|---:|")
    for log, what, a, b, c, _ in rows:
        if what == "ratios":
            print(f"| {log} | **unclosed / rg --no-mmap = {a:.2f}×; pipe / cat\\|wc = {b:.2f}×; Python / unclosed = {c:.1f}×** | | | |")
        else:
            print(f"| {log} ({os.path.getsize(os.path.join(data, log)) >> 20} MiB) | {what} | {a:.3f} | {b:.0f} | {c / 1024:.1f} |")
    if failures:
        print("\nCOUNTS DIFFER FROM THE FIXTURES' TRUTH:\n" + "\n".join(failures))
        sys.exit(1)
    print("\nCounts on every log equal the sum of its fixtures' truth.")


if __name__ == "__main__":
    main()
