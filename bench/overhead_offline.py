"""Overhead of the fake backend: the same real-SDK script against it and with ``WANDB_MODE=offline``.

    python bench/overhead_offline.py [--reps 10] [--logs 100]

The script is ``wandb.init``, ``--logs`` ``run.log`` calls, ``run.finish()``, run as a plain
subprocess (no harness, no supervisor, no trigger hook). Both cases get the same environment - the
harness's (fake's URL and key, W&B dirs under a fresh directory, 1 s file_stream batches, no
system metrics) - except ``WANDB_MODE=offline`` in the baseline. Repetitions alternate; the figure
is the ratio of the medians (target <= 1.10x).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import figure, interleaved, load, median, plain_run, spread

from pytest_runresume import FakeServer

SCRIPT = """\
import sys
import wandb

run = wandb.init(project="bench", id=sys.argv[1], config={"lr": 0.1})
for i in range(int(sys.argv[2])):
    run.log({"loss": 1.0 / (i + 1), "acc": i / 1000, "lr": 0.1})
run.finish()
"""


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--logs", type=int, default=100)
    args = p.parse_args()
    print(f"overhead_offline: {load()}")
    with FakeServer() as served, tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "script.py"
        script.write_text(SCRIPT)

        def case(mode: str):
            def one(i: int) -> float:
                argv = [script, f"{mode}{i}", args.logs]
                return plain_run(served, Path(tmp) / f"{mode}{i}", argv, offline=mode == "offline")

            return one

        times = interleaved({"served": case("served"), "offline": case("offline")}, args.reps)
        rec = served.model.run(f"testent/bench/served{args.reps - 1}")
        assert rec.last_step == args.logs - 1, rec.last_step
    print(f"  served:  {spread(times['served'])}")
    print(f"  offline: {spread(times['offline'])}")
    ratio = median(times["served"]) / median(times["offline"])
    figure(
        f"init + {args.logs} logs + finish, served / offline",
        f"{ratio:.2f}x",
        "<= 1.10x",
        ratio <= 1.10,
        f"the same script with WANDB_MODE=offline, median {median(times['offline']):.2f} s",
    )
    print(f"  ({load()} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
