"""Run every benchmark and print every figure with its target.

    python bench/run_all.py [--quick] [--only NAME ...]

Runs the scripts of ``bench/`` one after the other (each its own process, its output shown as it
comes), then prints a summary table: one row per figure with its goal, its value (a same-run ratio or
labelled absolute), the baseline it was measured against in the same run, whether it met the goal,
and the machine's load. ``--quick`` runs fewer repetitions (a smoke run, figures noisier). Exits 1 if a
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
    "scale": ([], ["--procs", "2", "4", "8", "--rows", "1000", "10000", "100000", "--sweep-runs", "10", "30", "100"]),
}


FIGURE_LINE = re.compile(
    r"^FIGURE (?P<name>.+?): (?P<value>.+) \(target (?P<target>.+?); baseline (?P<baseline>.+)\) (?P<ok>ok|MISSED)$"
)


def table(rows: list[dict[str, str]]) -> str:
    """The summary: one row per figure with its goal, its value and the baseline of the same run."""
    head = {"ok": "ok", "name": "figure", "value": "value", "target": "goal", "baseline": "same-run baseline"}
    padded = ["ok", "name", "value", "target"]  # the baseline (long) and the script go last, unpadded
    width = {c: max(len(r[c]) for r in [head, *rows]) for c in padded}
    out = []
    for r in [dict(head, script="script"), *rows]:
        out.append(" | ".join([r[c].ljust(width[c]) for c in padded] + [r["baseline"], r["script"]]))
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="fewer repetitions: a smoke run")
    p.add_argument("--only", nargs="+", choices=list(SCRIPTS), default=list(SCRIPTS))
    args = p.parse_args()
    print(f"run_all: {load()}", flush=True)
    figures: list[dict[str, str]] = []
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
        found = [m.groupdict() for line in lines if (m := FIGURE_LINE.match(line.rstrip()))]
        if code != 0 or not found:
            failed.append(f"{name} (exit {code})")
        figures += [dict(f, script=f"{name}, {time.monotonic() - started:.0f} s") for f in found]
    print(f"\n=== summary ({time.monotonic() - t0:.0f} s; {load()} at the end)")
    print("value: a ratio (x) against the baseline measured in the same run, alternating repetitions,")
    print("or labelled absolute; goal: the issue's target; ok: met (MISSED otherwise)")
    print(table(figures))
    for f in failed:
        print(f"FAILED: {f}")
    missed = [f for f in figures if f["ok"] == "MISSED"]
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
