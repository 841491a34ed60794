#!/usr/bin/env python3
"""Benchmark `unclosed audit` against `ruff check --select SIM115` on the same trees: LiteLLM's
package (litellm 1.72.6) and Home Assistant's homeassistant/components.

usage: python3 bench/audit.py [--runs N] [--data DIR] [--ha-version V]

Fetches the wheels with `pip download --no-deps` and unpacks them (python -m zipfile) under
target/bench-audit once, installs ruff into a venv there, builds the release binary, and runs
each command N times (median and min wall time) and once more for its peak resident size
(/usr/bin/time), one thread (`unclosed audit -j1`, ruff with RAYON_NUM_THREADS=1) and every
core. Prints the load average before and after (the numbers mean little on a busy machine)
and a Markdown table.
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LITELLM = "1.72.6"


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def fetch(data, py, spec, marker):
    """The unpacked wheel of `spec` under data, fetched once."""
    name = spec.replace("==", "-")
    dest = os.path.join(data, name)
    if os.path.exists(os.path.join(dest, marker)):
        return dest
    dl = os.path.join(data, "wheels")
    os.makedirs(dl, exist_ok=True)
    subprocess.run([py, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest", dl, spec], check=True)
    project = spec.split("==")[0].replace("-", "_").lower()
    version = spec.split("==")[1] if "==" in spec else ""
    wheel = next(
        os.path.join(dl, w)
        for w in sorted(os.listdir(dl))
        if w.lower().startswith(project + "-" + version) and w.endswith(".whl")
    )
    subprocess.run([py, "-m", "zipfile", "-e", wheel, dest + ".partial"], check=True)
    os.rename(dest + ".partial", dest)
    return dest


def once(cmd, env=None):
    """(seconds, peak RSS KiB, stdout) of one run; the peak from /usr/bin/time, a small process."""
    rss_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"unclosed-bench-audit-rss-{os.getpid()}")
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    seconds = time.perf_counter() - t0
    with open(rss_file) as f:
        rss = int(f.read().split()[-1])
    os.unlink(rss_file)
    return seconds, rss, p.stdout


def main():
    runs = arg("--runs", 5)
    data = arg("--data", os.path.join(ROOT, "target", "bench-audit"))
    ha_version = arg("--ha-version", "")
    os.makedirs(data, exist_ok=True)
    if not os.path.exists("/usr/bin/time"):
        sys.exit("/usr/bin/time is needed: apt-get install time")
    venv = os.path.join(data, "venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    ruff = os.path.join(venv, "bin", "ruff")
    if not os.path.exists(ruff):
        subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "ruff"], check=True)
    ruff_version = subprocess.run([ruff, "--version"], capture_output=True, text=True).stdout.strip()
    litellm = os.path.join(fetch(data, py, f"litellm=={LITELLM}", "litellm/__init__.py"), "litellm")
    ha_spec = f"homeassistant=={ha_version}" if ha_version else "homeassistant"
    if not ha_version:
        # The newest the venv's Python installs; pinned by name for the marker.
        out = subprocess.run([py, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest", os.path.join(data, "wheels"), "homeassistant"], check=True, capture_output=True, text=True)
        wheels = [w for w in os.listdir(os.path.join(data, "wheels")) if w.startswith("homeassistant-")]
        ha_spec = "homeassistant==" + sorted(wheels)[-1].split("-")[1]
    ha = os.path.join(fetch(data, py, ha_spec, "homeassistant/__init__.py"), "homeassistant", "components")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    unclosed = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "unclosed")

    one = dict(os.environ, RAYON_NUM_THREADS="1")
    load_before = os.getloadavg()
    rows = []
    for tree_name, tree in [(f"litellm {LITELLM} package", litellm), (f"{ha_spec.replace('==', ' ')} components", ha)]:
        files = sum(1 for _, _, fs in os.walk(tree) for f in fs if f.endswith(".py"))
        commands = [
            ("unclosed audit -j1", [unclosed, "audit", "-j1", "--format", "json", "--fail-on", "none", tree], None),
            ("ruff SIM115, 1 thread", [ruff, "check", "--isolated", "--no-cache", "--select", "SIM115", "--exit-zero", "--quiet", tree], one),
            ("unclosed audit", [unclosed, "audit", "--format", "json", "--fail-on", "none", tree], None),
            ("ruff SIM115", [ruff, "check", "--isolated", "--no-cache", "--select", "SIM115", "--exit-zero", "--quiet", tree], None),
        ]
        for label, cmd, env in commands:
            times = [once(cmd, env)[0] for _ in range(runs)]
            _, rss, out = once(cmd, env)
            note = ""
            if label.startswith("unclosed"):
                v = json.loads(out)
                note = f"{len(v['constructions'])} constructions, {v['files']['scanned']} files"
            rows.append((tree_name, files, label, statistics.median(times), min(times), rss, note))
    load_after = os.getloadavg()
    print(f"{ruff_version}; {os.cpu_count()} cores; load average before {load_before[0]:.2f} {load_before[1]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f}; {runs} runs each\n")
    print("| tree | .py files | command | median s | min s | peak RSS MiB | |")
    print("|---|---:|---|---:|---:|---:|---|")
    for tree_name, files, label, med, lo, rss, note in rows:
        print(f"| {tree_name} | {files} | {label} | {med:.3f} | {lo:.3f} | {rss / 1024:.1f} | {note} |")


if __name__ == "__main__":
    main()
