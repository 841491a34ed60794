#!/usr/bin/env python3
"""What `unclosed tail --metrics` costs on a Kubernetes node, next to `tail -F`.

usage: python3 bench/fleet.py [--files 200] [--rate-mb 1.0] [--seconds 20] [--idle-seconds 30]
                              [--bin PATH]

Makes FILES empty files in the kubelet's layout in a temporary directory
(`pods/<namespace>_<pod>_<uid>/<container>/0.log`, each with a symbolic link to it named
`containers/<pod>_<namespace>_<container>-<id>.log`) and, for each follower in turn,

- `unclosed tail --metrics=127.0.0.1:0 -f ndjson 'DIR/containers/*.log'` (stdout to /dev/null),
- `tail -F -q FILE...` of the links' targets into /dev/null (GNU coreutils, inotify; given
  the links themselves, GNU tail polls once a second instead),

appends the lines of a committed fixture in the kubelet's CRI envelope
(samples/logs/percall_cri.log: real aiohttp output among the application's ordinary lines, 7
leaks and 15 pooled connections per copy) to the files round-robin, a line per write(2), at RATE
MB/s for SECONDS. It prints each follower's CPU time (user + system, from /proc) per MB written
and as a share of one core, and its peak resident memory (VmHWM). `unclosed` must have counted
every byte written (read back from its /metrics), so a run that drops data does not pass for a
cheap one. Then IDLE-SECONDS with the FILES quiet: each follower's CPU share while nothing is
written. The load average is printed before and after: the numbers mean something only on a
quiet machine.

The binary is target/release/unclosed (built first) unless --bin says otherwise. Linux only.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURE = os.path.join(ROOT, "samples", "logs", "percall_cri.log")
ID = "6f0b5a3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90"


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def scrape(addr):
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=30) as r:
        return r.read().decode()


def sample(text, name):
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def start_unclosed(unclosed, d):
    p = subprocess.Popen(
        [unclosed, "tail", "--metrics=127.0.0.1:0", "-f", "ndjson", os.path.join(d, "containers", "*.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in p.stderr:
        if line.startswith("unclosed: serving metrics at http://"):
            addr = line.strip().removeprefix("unclosed: serving metrics at http://").removesuffix("/metrics")
            break
    else:
        sys.exit("unclosed tail did not start serving")
    # Wait until it follows every file (it joins existing files at their end).
    deadline = time.monotonic() + 60
    while sample(scrape(addr), "unclosed_files_followed") != float(len(os.listdir(os.path.join(d, "containers")))):
        if time.monotonic() > deadline:
            sys.exit("unclosed tail does not follow the files")
        time.sleep(0.1)
    return p, addr


def write_steadily(paths, lines, rate, seconds):
    """Appends fixture lines round-robin at `rate` bytes/s; returns bytes written and seconds."""
    fds = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in paths]
    nxt = [0] * len(paths)
    nbytes, f, t0 = 0, 0, time.monotonic()
    while (elapsed := time.monotonic() - t0) < seconds:
        while nbytes < rate * elapsed:
            line = lines[nxt[f]]
            os.write(fds[f], line)
            nbytes += len(line)
            nxt[f] = (nxt[f] + 1) % len(lines)
            f = (f + 1) % len(paths)
        time.sleep(0.005)
    for fd in fds:
        os.close(fd)
    return nbytes, time.monotonic() - t0


def main():
    files = arg("--files", 200)
    rate = arg("--rate-mb", 1.0) * 1e6
    seconds = arg("--seconds", 20.0)
    idle = arg("--idle-seconds", 30.0)
    unclosed = arg("--bin", "")
    if not unclosed:
        subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
        unclosed = os.path.join(ROOT, "target", "release", "unclosed")
    lines = open(FIXTURE, "rb").read().splitlines(keepends=True)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    d = tempfile.mkdtemp(prefix="fleet-")
    try:
        os.makedirs(os.path.join(d, "containers"))
        # kubelet's layout: each container's log in its pod's directory, and a symbolic link
        # to it in containers/ (the path the DaemonSet follows). Writes go to the targets.
        links, paths = [], []
        for i in range(files):
            pod = os.path.join(d, "pods", f"bench_app-{i:03}-7d9f8b_{ID[:8]}-{i:04}", "web")
            os.makedirs(pod)
            target = os.path.join(pod, "0.log")
            open(target, "wb").close()
            link = os.path.join(d, "containers", f"app-{i:03}-7d9f8b_bench_web-{ID}.log")
            os.symlink(target, link)
            links.append(link)
            paths.append(target)

        results = {}
        for name in ["unclosed tail --metrics", "tail -F"]:
            if name == "tail -F":
                proc = subprocess.Popen(["tail", "-F", "-q", "-n", "0", *paths], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(2.0)
            else:
                proc, addr = start_unclosed(unclosed, d)
                before = sample(scrape(addr), "unclosed_bytes_total") or 0.0
            cpu0 = cpu_seconds(proc.pid)
            nbytes, wall = write_steadily(paths, lines, rate, seconds)
            if name != "tail -F":
                deadline = time.monotonic() + 60
                while (sample(scrape(addr), "unclosed_bytes_total") or 0.0) - before < nbytes:
                    if time.monotonic() > deadline:
                        sys.exit("MISMATCH: unclosed did not count every byte written")
                    time.sleep(0.2)
            else:
                time.sleep(1.0)
            busy = cpu_seconds(proc.pid) - cpu0
            # Quiet: the same files, nothing written.
            time.sleep(2.0)
            cpu1 = cpu_seconds(proc.pid)
            time.sleep(idle)
            quiet = cpu_seconds(proc.pid) - cpu1
            rss = peak_rss_mib(proc.pid)
            proc.terminate()
            proc.wait(timeout=60)
            results[name] = (busy, nbytes, wall, quiet, rss)
            print(
                f"{name}: {files} files, {nbytes / wall / 1e6:.2f} MB/s for {wall:.1f} s: "
                f"CPU {busy:.2f} s = {busy / (nbytes / 1e6):.3f} s per MB = {100 * busy / wall:.1f}% of a core; "
                f"idle {100 * quiet / idle:.3f}% of a core; peak RSS {rss:.1f} MiB"
            )
        u, t = results["unclosed tail --metrics"], results["tail -F"]
        print(f"busy CPU per MB: unclosed {u[0] / u[1] * 1e6:.3f} s, tail -F {t[0] / t[1] * 1e6:.3f} s ({(u[0] / u[1]) / max(t[0] / t[1], 1e-9):.2f}x)")
    finally:
        shutil.rmtree(d)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
