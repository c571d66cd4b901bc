"""SIGKILL -> ``crashed`` assertion: wall time, with the backend clock moved instead of waited.

    python bench/crash_wall.py [--reps 6] [--step 3]

Each repetition is what a ``@pytest.mark.crash(at_step=3)`` test does with ``examples/train.py``:
SIGKILL right after step ``--step``; the marker checks the run is still alive (no exit reported),
moves the backend's clock past the crash timeout (300 s) and expects ``crashed``. Measured: from
the kill to the passed ``crashed`` assertion (target < 2 s, zero seconds waited for the timeout),
and the whole test (launch to assertion), next to one plain offline run of the same script as the
baseline (alternating repetitions).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import TRAIN, figure, interleaved, load, median, plain_run, record_sync_waits, spread

from pytest_runresume import FakeServer, Preemption, Trigger
from pytest_runresume.plugin.harness import PytestHarness
from pytest_runresume.plugin.markers import PreemptSpec


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=6)
    p.add_argument("--step", type=int, default=3)
    args = p.parse_args()
    print(f"crash_wall: {load()}")
    kill_to_assert: list[float] = []
    clock_moved: list[float] = []
    with FakeServer() as served, tempfile.TemporaryDirectory() as tmp:
        waits = record_sync_waits(served.model)

        def crash_test(i: int) -> float:
            served.reset()
            preemption = Preemption("SIGKILL", Trigger.at_step(args.step))
            spec = PreemptSpec(preemption, "crashed", preemption.exit_code, False, crash_clock=True)
            h = PytestHarness(served, Path(tmp) / f"crash{i}", spec, timeout=120)
            clock0 = served.model.now()
            t0 = time.perf_counter()
            w0 = time.time()
            result = h.run(["python", str(TRAIN), "--run-id", f"crash{i}", "--steps", "12"])  # marker checks
            assert result.state == "crashed"
            assert result.run.steps == list(range(args.step + 1)), result.run.steps
            t1 = time.perf_counter()
            kill_to_assert.append(t1 - (t0 + result.signals[0].t - w0))
            clock_moved.append(served.model.now() - clock0 - (t1 - t0))
            return t1 - t0

        def offline(i: int) -> float:
            argv = [TRAIN, "--run-id", f"off{i}", "--steps", 12]
            return plain_run(served, Path(tmp) / f"offline{i}", argv, offline=True)

        times = interleaved({"crash test": crash_test, "offline": offline}, args.reps)
    print(f"  kill -> crashed assertion: {spread(kill_to_assert)}")
    print(f"  whole crash test:          {spread(times['crash test'])}")
    print(f"    of which waiting for the backend to hold step {args.step} (sync): {spread(waits)}")
    print(f"  one offline run:           {spread(times['offline'])}")
    print(f"  backend clock moved by {median(clock_moved):.0f} s per test beyond wall time (not waited)")
    worst = max(kill_to_assert)
    figure(
        "SIGKILL -> crashed assertion (max)",
        f"{worst:.2f} s absolute",
        "< 2 s",
        worst < 2.0,
        f"none: an absolute wall time (the 300 s crash timeout is moved on the backend clock, "
        f"{median(clock_moved):.0f} s per test, not waited)",
    )
    ratio = median(times["crash test"]) / median(times["offline"])
    figure(
        "whole crash test / one offline run",
        f"{ratio:.2f}x",
        "recorded (no target)",
        True,
        f"one WANDB_MODE=offline run of the same script (all steps), median {median(times['offline']):.2f} s",
    )
    print(f"  ({load()} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
