"""Shared helpers of the bench scripts: interleaved repetitions, medians, load, figure lines.

Every figure is measured side by side with its baseline in the same run (the machine is shared and
noisy): repetitions of A and B alternate (A B B A A B ...), and medians are compared. Each script
prints its figures as ``FIGURE <name>: <value> (target <target>; baseline <baseline>) <ok|MISSED>``
lines, which ``bench/run_all.py`` collects into one table.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "examples" / "train.py"
if str(ROOT) not in sys.path:  # run as ``python bench/x.py`` from anywhere
    sys.path.insert(0, str(ROOT))


def interleaved(cases: dict[str, Callable[[int], float]], reps: int) -> dict[str, list[float]]:
    """Run each case ``reps`` times, alternating the order every repetition (A B, B A, A B ...).

    Each callable gets the repetition number and returns the seconds it measured.
    """
    names = list(cases)
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(reps):
        for name in names if i % 2 == 0 else reversed(names):
            times[name].append(cases[name](i))
    return times


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn()`` took (monotonic clock)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float]) -> str:
    """``median (min..max)`` in seconds, for the detail lines."""
    return f"{median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f}, n={len(xs)})"


def load() -> str:
    """The machine's load, for the record: 1-minute load average against the core count."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def figure(name: str, value: str, target: str, ok: bool, baseline: str) -> None:
    """Print one figure line in the format ``run_all.py`` collects:
    ``FIGURE <name>: <value> (target <target>; baseline <baseline>) ok|MISSED``.

    ``value`` is a same-run ratio (``1.08x``) or says it is absolute (``1.32 s absolute``);
    ``baseline`` names what the figure was compared with in the same run and its measured value
    (``two offline runs, median 4.61 s``), or why there is none (``none: an absolute count``).
    """
    if ": " in name or "; baseline " in target:
        raise ValueError(f"a figure's name has no ': ' and its target no '; baseline ' (run_all parses them): {name!r}")
    print(f"FIGURE {name}: {value} (target {target}; baseline {baseline}) {'ok' if ok else 'MISSED'}", flush=True)


def plain_run(served: Any, base_dir: Path, argv: Sequence[str], offline: bool) -> float:
    """Run ``python argv...`` as a plain subprocess (no supervisor, no trigger hook) with the
    harness's environment for ``served`` - plus ``WANDB_MODE=offline`` if ``offline`` - in a fresh
    ``base_dir``; return its wall seconds. Exits the benchmark if the run fails."""
    from pytest_runresume import Harness

    h = Harness(served, base_dir)
    env = h.env()
    env.pop("PYTHONPATH", None)
    if offline:
        env["WANDB_MODE"] = "offline"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *map(str, argv)],
        env=env,
        cwd=h.workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return took


def record_sync_waits(model: Any) -> list[float]:
    """Record the seconds each ``model.wait_for`` call takes from now on (the harness's wait,
    before a step-triggered signal, until the backend holds the step: ``Preemption.sync``).

    wandb-core sends history at most once per file_stream transmit interval: 20 ms in the harness's
    environment with wandb 0.31, 1 s with other versions (see
    ``pytest_runresume.harness.sdk_env.file_stream_transmit_interval``)."""
    waits: list[float] = []
    inner = model.wait_for

    def wait_for(predicate: Callable[[], Any], timeout: float) -> Any:
        t0 = time.perf_counter()
        try:
            return inner(predicate, timeout)
        finally:
            waits.append(time.perf_counter() - t0)

    model.wait_for = wait_for
    return waits
