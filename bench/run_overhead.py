#!/usr/bin/env python3
"""What `unclosed run` costs over running the command bare, on small real aiohttp programs.

usage: python3 bench/run_overhead.py [--runs N] [--python PATH]

Times (median wall time of N runs) each program bare, under `unclosed run` (asyncio debug mode
and ResourceWarnings on, as by default) and under `unclosed run --tracemalloc`, and prints a
Markdown table with the ratios. The programs are the suite's own (tests/programs/): a client
that leaks a session per call against a local server, and a small pytest suite. The Python is
the test venv `.ci/run` makes (aiohttp and pytest in it) unless --python says otherwise.

The bare run gets the same PYTHONASYNCIODEBUG and PYTHONWARNINGS as `run` sets, so the ratio is
what `run` itself adds (pipes, triage, the report); the line "asyncio debug" shows what the
debug mode costs the program on its own.
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def median_time(cmd, env, cwd, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    runs = arg("--runs", 10)
    python = arg("--python", os.path.join(ROOT, ".venv-test", "bin", "python"))
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    unclosed = os.path.join(ROOT, "target", "release", "unclosed")
    programs = [
        ("leaky.py (3 calls, local server)", [python, "leaky.py"], os.path.join(ROOT, "tests", "programs")),
        (
            "pytest_suite (2 tests)",
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_prices.py"],
            os.path.join(ROOT, "tests", "programs", "pytest_suite"),
        ),
    ]
    base = dict(os.environ)
    for k in ["PYTHONASYNCIODEBUG", "PYTHONTRACEMALLOC", "PYTHONWARNINGS"]:
        base.pop(k, None)
    debug = dict(base, PYTHONASYNCIODEBUG="1", PYTHONWARNINGS="default::ResourceWarning", PYTHONUNBUFFERED="1")
    print(f"median of {runs} runs; {sys.platform}, {os.cpu_count()} CPUs\n")
    print("| program | command | median s | vs bare with the same settings |")
    print("|---|---|---:|---:|")
    for name, cmd, cwd in programs:
        plain = median_time(cmd, base, cwd, runs)
        bare = median_time(cmd, debug, cwd, runs)
        under = median_time([unclosed, "run", "-q", "--"] + cmd, base, cwd, runs)
        traced = median_time([unclosed, "run", "-q", "--tracemalloc", "--"] + cmd, base, cwd, runs)
        print(f"| {name} | bare, no debug | {plain:.3f} | |")
        print(f"| {name} | bare, asyncio debug + ResourceWarnings | {bare:.3f} | 1.00× |")
        print(f"| {name} | `unclosed run` | {under:.3f} | {under / bare:.2f}× |")
        print(f"| {name} | `unclosed run --tracemalloc` | {traced:.3f} | {traced / bare:.2f}× |")


if __name__ == "__main__":
    main()
