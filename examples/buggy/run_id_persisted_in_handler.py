"""BUGGY on purpose -- bug class: the run id is persisted only by the preemption handler.

The script ignores ``--run-id`` and ``WANDB_RUN_ID``: it takes the run id from its checkpoint, or
generates one and passes it explicitly as ``wandb.init(id=...)`` (which overrides ``WANDB_RUN_ID``,
R19). The periodic checkpoints do not contain the id; only the preemption handler writes it.

What goes wrong in production: a handled preemption works (the handler's checkpoint carries the
id), but when the handler never runs -- SIGKILL, OOM kill, node loss, a grace period that runs out
(R73) -- the restart finds a periodic checkpoint without an id, generates a new one and starts a
NEW run at step 0; the killed run ends CRASHED and the history is split.

Rules broken: R21, R28 (the id must be fixed and persisted before init, not at exit), R73.

    python run_id_persisted_in_handler.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
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
    state = {"w": 0.0, "b": 0.0, "step": -1}
    if ckpt_path.exists():
        state = json.loads(ckpt_path.read_text())
    # BUG: --run-id/WANDB_RUN_ID ignored, and the id is not written to the checkpoint here (R21, R28)
    run_id = state.pop("run_id", None) or secrets.token_hex(4)

    run = wandb.init(project=args.project, id=run_id, resume="allow", config={"lr": args.lr, "steps": args.steps})
    start = state["step"] + 1
    print(f"run {run.id} resumed={run.resumed} starting_step={run.starting_step} from checkpoint step {start}")

    def on_preemption(signum: int, frame: object) -> None:
        save_checkpoint(ckpt_path, {**state, "run_id": run_id})  # BUG: the only place the id is persisted (R73)
        if wandb.run is not None:
            wandb.run.mark_preempting()
        print(f"preempted by {signal.Signals(signum).name} after step {state['step']}", flush=True)
        sys.exit(128 + signum)

    for sig in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(sig, on_preemption)

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
