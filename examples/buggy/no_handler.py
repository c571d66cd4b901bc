"""BUGGY on purpose -- bug class: no preemption signal handler at all.

Same as ``examples/train.py`` without ``signal.signal(...)``: nothing catches SIGUSR1/SIGTERM.

What goes wrong in production: the scheduler's preemption signal kills the process with the
default action. No checkpoint is written at the signal (the restart loses the steps since the last
periodic one), ``mark_preempting()`` is never called and no exit code is reported, so the run stays
RUNNING until the backend's ~5-minute timeout and then ends CRASHED -- not PREEMPTED, so a sweep
never requeues it (R60, R61, R70e "none").

Rule broken: R68 (register a handler for the preemption signal before training), R70e.

    python no_handler.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
from pathlib import Path

import wandb


def make_data(n: int = 64, seed: int = 0) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(x, 3.0 * x - 1.0 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(n))]


def sgd_step(w: float, b: float, data: list[tuple[float, float]], lr: float) -> tuple[float, float, float]:
    gw = gb = loss = 0.0
    for x, y in data:
        err = w * x + b - y
        loss += err * err
        gw += 2 * err * x
        gb += 2 * err
    return w - lr * gw / len(data), b - lr * gb / len(data), loss / len(data)


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-id", default=os.environ.get("WANDB_RUN_ID"))
    p.add_argument("--project", default="runresume-example")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--ckpt", default="checkpoint.json")
    p.add_argument("--ckpt-every", type=int, default=5)
    args = p.parse_args(argv)

    ckpt_path = Path(args.ckpt)
    state = {"w": 0.0, "b": 0.0, "step": -1, "run_id": args.run_id}
    if ckpt_path.exists():
        state = json.loads(ckpt_path.read_text())
    run_id = args.run_id or state.get("run_id") or secrets.token_hex(4)
    state["run_id"] = run_id
    save_checkpoint(ckpt_path, state)

    run = wandb.init(project=args.project, id=run_id, resume="allow", config={"lr": args.lr, "steps": args.steps})
    start = state["step"] + 1
    print(f"run {run.id} resumed={run.resumed} starting_step={run.starting_step} from checkpoint step {start}")

    # BUG: no handler for the preemption signal (SIGUSR1/SIGTERM) is registered (R68)

    data = make_data()
    w, b, loss = state["w"], state["b"], None
    for step in range(start, args.steps):
        w, b, loss = sgd_step(w, b, data, args.lr)
        state.update(w=w, b=b, step=step)
        run.log({"loss": loss, "w": w, "b": b, "train_step": step})
        if (step + 1) % args.ckpt_every == 0:
            save_checkpoint(ckpt_path, state)
    run.summary["final_loss"] = loss
    run.finish()
    ckpt_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
