"""Harness determinism: the same preemption, N times, with the CPUs loaded; count mismatches.

    python bench/determinism.py [--reps 100] [--step 4] [--signal SIGUSR1] [--load 2]

Each repetition runs examples/train.py, sends the signal right after step ``--step`` and records
(exit code, run state, steps the backend held at the signal, steps after the exit, checkpoint step,
the diagnosis's finding codes). Every repetition must give the EXPECTED tuple, written down from the
rules, not taken from a first repetition: exit 128+signum (R67), ``preempted`` (R66, R70e), the
backend holding step N at the signal (the harness's sync), steps 0..N once each, the checkpoint at
step N, no finding. ``--load N`` keeps N busy-loop processes running meanwhile (the machine has 2
cores). Prints the mismatch count; exits 1 if it is not 0.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

from _common import TRAIN, figure, load

from pytest_runresume import FakeServer, Harness, Preemption, Trigger


def burn(stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=100)
    p.add_argument("--step", type=int, default=4)
    p.add_argument("--signal", default="SIGUSR1")
    p.add_argument("--load", type=int, default=2)
    args = p.parse_args()
    print(f"determinism: {load()}")
    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=burn, args=(stop,), daemon=True) for _ in range(args.load)]
    for b in burners:
        b.start()
    outcomes: list[tuple] = []
    t0 = time.monotonic()
    try:
        with FakeServer() as served, tempfile.TemporaryDirectory() as tmp:
            for i in range(args.reps):
                served.reset()
                h = Harness(served, Path(tmp) / f"r{i}", timeout=120)
                res = h.run(
                    ["python", str(TRAIN), "--run-id", f"det{i}", "--steps", "12"],
                    preempt=Preemption(args.signal, Trigger.at_step(args.step)),
                )
                ckpt = json.loads((h.workdir / "checkpoint.json").read_text())["step"]
                outcomes.append(
                    (
                        res.exit_code,
                        res.state,
                        res.signals[0].backend_last_step,
                        tuple(res.run.steps),
                        ckpt,
                        tuple(f.code for f in res.findings),
                    )
                )
    finally:
        stop.set()
        for b in burners:
            b.join(timeout=5)
    sig = Preemption(args.signal).signal
    reference = (128 + int(sig), "preempted", args.step, tuple(range(args.step + 1)), args.step, ())
    mismatches = [i for i, o in enumerate(outcomes) if o != reference]
    wall = time.monotonic() - t0
    print(
        f"expected outcome: exit={reference[0]} state={reference[1]} backend_step_at_signal={reference[2]} "
        f"steps={list(reference[3])} checkpoint_step={reference[4]} findings={list(reference[5])}"
    )
    for i in mismatches[:5]:
        print(f"  repetition {i}: {outcomes[i]}")
    print(
        f"repetitions: {len(outcomes)}, busy-loop processes: {args.load}, wall: {wall:.1f} s "
        f"({wall / len(outcomes):.2f} s per repetition)"
    )
    print(f"mismatches: {len(mismatches)} (target 0){' at ' + str(mismatches) if mismatches else ''}")
    figure(
        f"harness determinism, {len(outcomes)} repetitions under {args.load} busy loops",
        f"{len(mismatches)} mismatches absolute ({wall / len(outcomes):.2f} s per repetition)",
        "0 mismatches",
        not mismatches,
        f"the expected outcome written from the rules: exit {reference[0]}, {reference[1]}, backend at step "
        f"{reference[2]} at the signal, checkpoint {reference[4]}, no finding (not a repetition)",
    )
    print(f"  ({load()} at the end)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
