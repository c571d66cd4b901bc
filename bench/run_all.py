"""Run every benchmark and print every figure with its target.

    python bench/run_all.py [--quick] [--only NAME ...]

Runs the scripts of ``bench/`` one after the other (each its own process, its output shown as it
comes), then prints a summary: one line per figure with its target and whether it was met, and the
machine's load. ``--quick`` runs fewer repetitions (a smoke run, figures noisier). Exits 1 if a
script failed or a figure missed its target.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, load

BENCH = Path(__file__).resolve().parent

#: name -> (full arguments, --quick arguments)
SCRIPTS: dict[str, tuple[list[str], list[str]]] = {
    "overhead_offline": (["--reps", "10"], ["--reps", "4"]),
    "preempt_cycle": (["--reps", "6"], ["--reps", "2"]),
    "crash_wall": (["--reps", "6"], ["--reps", "2"]),
    "ingest": ([], ["--reps", "3", "--big", "200000", "--calls", "100"]),
    "picture": ([], ["--reps", "3"]),
    "suite_parallel": (["--reps", "2"], ["--reps", "1"]),
    "determinism": (["--reps", "100"], ["--reps", "10"]),
    "plugin_import": (["--reps", "20"], ["--reps", "6"]),
}


def determinism_figures(out: str) -> list[str]:
    """``determinism.py`` prints its own lines; turn them into figure lines."""
    figures = []
    m = re.search(r"^mismatches: (\d+)", out, re.M)
    reps = re.search(r"^repetitions: (\d+), busy-loop processes: (\d+).*\(([\d.]+) s per repetition\)", out, re.M)
    if m and reps:
        n = int(m.group(1))
        figures.append(
            f"FIGURE harness determinism, {reps.group(1)} repetitions under {reps.group(2)} busy loops: "
            f"{n} mismatches, {reps.group(3)} s per repetition (target 0 mismatches) {'ok' if n == 0 else 'MISSED'}"
        )
    return figures


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="fewer repetitions: a smoke run")
    p.add_argument("--only", nargs="+", choices=list(SCRIPTS), default=list(SCRIPTS))
    args = p.parse_args()
    print(f"run_all: {load()}", flush=True)
    figures: list[str] = []
    failed: list[str] = []
    t0 = time.monotonic()
    for name in args.only:
        full, quick = SCRIPTS[name]
        cmd = [sys.executable, str(BENCH / f"{name}.py"), *(quick if args.quick else full)]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        code = proc.wait()
        out = "".join(lines)
        found = [line.rstrip() for line in lines if line.startswith("FIGURE ")]
        if name == "determinism":
            found += determinism_figures(out)
        if code != 0 and name != "determinism" or not found:
            failed.append(f"{name} (exit {code})")
        figures += [f"{f} [{name}, {time.monotonic() - started:.0f} s]" for f in found]
    print(f"\n=== summary ({time.monotonic() - t0:.0f} s; {load()} at the end)")
    for f in figures:
        print(f[len("FIGURE ") :])
    for f in failed:
        print(f"FAILED: {f}")
    missed = [f for f in figures if " MISSED [" in f]
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
