"""The test suite serial against ``-n 2`` (pytest-xdist), on a fixed subset to keep it affordable.

    python bench/suite_parallel.py [--reps 2] [--paths examples tests/harness]

Runs ``python -m pytest PATHS -q -p no:cacheprovider`` with and without ``-n 2``, ``--reps`` times
each, alternating (serial, parallel, parallel, serial ...); every run must pass. The figure is the
serial median over the parallel median (target >= 1.7x on 2 cores).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _common import ROOT, figure, interleaved, load, median, spread


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--paths", nargs="+", default=["examples", "tests/harness"])
    args = p.parse_args()
    print(f"suite_parallel: {load()}; paths {' '.join(args.paths)}")

    def case(extra: list[str]):
        def one(i: int) -> float:
            cmd = [sys.executable, "-m", "pytest", *args.paths, "-q", "-p", "no:cacheprovider", *extra]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            took = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
            print(
                f"  {'serial' if not extra else '-n 2':6s} run {i + 1}: {took:.1f} s ({proc.stdout.strip().splitlines()[-1]})"
            )
            return took

        return one

    times = interleaved({"serial": case([]), "parallel": case(["-n", "2"])}, args.reps)
    print(f"  serial:   {spread(times['serial'])}")
    print(f"  -n 2:     {spread(times['parallel'])}")
    ratio = median(times["serial"]) / median(times["parallel"])
    figure(
        f"suite subset ({' '.join(args.paths)}) serial / -n 2",
        f"{ratio:.2f}x",
        ">= 1.7x",
        ratio >= 1.7,
        f"the same paths with -n 2, median {median(times['parallel']):.1f} s",
    )
    print(f"  ({load()} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
