"""A small but real training script that survives preemption (the pattern of R68).

Linear regression by SGD in pure Python. Every ``--ckpt-every`` steps, and when the preemption
signal arrives, it writes a checkpoint (weights, the W&B step, the run id). On restart it loads the
checkpoint and resumes the same W&B run with ``resume="allow"`` (R03/R04), so history continues at
the last step + 1 (R35).

    python train.py --run-id my-run --steps 20 [--ckpt DIR] [--fail-at STEP] [--signals SIGUSR1,SIGTERM]

The preemption handler (registered before training, R68): save the checkpoint, call
``run.mark_preempting()`` only if a run is active (R65, R69), exit 128 + signum (R67).
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

TRUE_W, TRUE_B = 3.0, -1.0


def make_data(n: int = 64, seed: int = 0) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(x, TRUE_W * x + TRUE_B + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(n))]


def sgd_step(w: float, b: float, data: list[tuple[float, float]], lr: float) -> tuple[float, float, float]:
    gw = gb = loss = 0.0
    for x, y in data:
        err = w * x + b - y
        loss += err * err
        gw += 2 * err * x
        gb += 2 * err
    n = len(data)
    return w - lr * gw / n, b - lr * gb / n, loss / n


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)  # atomic: a kill mid-write never leaves a torn checkpoint


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-id", default=os.environ.get("WANDB_RUN_ID"))
    p.add_argument("--project", default="runresume-example")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--ckpt", default="checkpoint.json")
    p.add_argument("--ckpt-every", type=int, default=5)
    p.add_argument("--fail-at", type=int, default=None, help="raise an exception at this step")
    p.add_argument("--signals", default="SIGUSR1,SIGTERM", help="preemption signals to handle")
    args = p.parse_args(argv)

    ckpt_path = Path(args.ckpt)
    state = {"w": 0.0, "b": 0.0, "step": -1, "run_id": args.run_id}
    if ckpt_path.exists():
        state = json.loads(ckpt_path.read_text())
    # The run id must be fixed before init and persisted with the checkpoint (R21, R28).
    run_id = args.run_id or state.get("run_id") or secrets.token_hex(4)  # wandb.util has no generate_id in 0.31
    state["run_id"] = run_id
    save_checkpoint(ckpt_path, state)

    run = wandb.init(project=args.project, id=run_id, resume="allow", config={"lr": args.lr, "steps": args.steps})
    start = state["step"] + 1
    if run.resumed and run.starting_step != start:
        # W&B resumes at its last step + 1 (R35); steps logged after the last checkpoint are lost
        # on our side, so the two disagree. Say so: it is the user's checkpoint rule that decides.
        print(f"warning: checkpoint resumes at step {start}, W&B at {run.starting_step}", file=sys.stderr)
    print(f"run {run.id} resumed={run.resumed} starting_step={run.starting_step} from checkpoint step {start}")

    def on_preemption(signum: int, frame: object) -> None:
        save_checkpoint(ckpt_path, state)
        if wandb.run is not None:
            wandb.run.mark_preempting()
        print(f"preempted by {signal.Signals(signum).name} after step {state['step']}", flush=True)
        sys.exit(128 + signum)

    for name in filter(None, args.signals.split(",")):
        signal.signal(signal.Signals[name.strip()], on_preemption)

    data = make_data()
    w, b = state["w"], state["b"]
    for step in range(start, args.steps):
        if args.fail_at is not None and step == args.fail_at:
            raise RuntimeError(f"deliberate failure at step {step}")
        w, b, loss = sgd_step(w, b, data, args.lr)
        state.update(w=w, b=b, step=step)
        run.log({"loss": loss, "w": w, "b": b, "train_step": step})
        if (step + 1) % args.ckpt_every == 0:
            save_checkpoint(ckpt_path, state)
    run.summary["final_loss"] = loss if args.steps > start else None
    run.finish()
    ckpt_path.unlink(missing_ok=True)  # done: a rerun starts fresh
    return 0


if __name__ == "__main__":
    sys.exit(main())
