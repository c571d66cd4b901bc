"""BUGGY on purpose -- bug class: a preemption handler slower than the grace period.

Same as ``examples/train.py`` except that the handler first does slow work (simulated by sleeping
``SLOW_HANDLER_SECONDS``, default 30 s: e.g. uploading a large checkpoint or waiting on a collective)
before it saves the checkpoint, calls ``mark_preempting()`` and exits 128 + signum.

What goes wrong in production: schedulers give a grace period after the preemption signal (SLURM's
KillWait, Kubernetes' terminationGracePeriodSeconds, ~30 s on spot VMs) and then SIGKILL. A handler
that outlives it is killed before it checkpoints or reports anything: the run stays RUNNING until
the crash timeout, then CRASHED, and the restart loses the steps since the last periodic checkpoint.

Rules broken: R68 (checkpoint, mark_preempting and exit within the grace period), R73 (SIGKILL
cannot be handled).

    python slow_handler.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import wandb
from _common import fixed_run_id, load_checkpoint, make_data, parse_args, save_checkpoint, sgd_step


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    ckpt_path = Path(args.ckpt)
    state = load_checkpoint(ckpt_path)
    run_id = fixed_run_id(args.run_id, state, ckpt_path)  # R21, R28

    run = wandb.init(project=args.project, id=run_id, resume="allow", config={"lr": args.lr, "steps": args.steps})
    start = state["step"] + 1
    print(f"run {run.id} resumed={run.resumed} starting_step={run.starting_step} from checkpoint step {start}")

    def on_preemption(signum: int, frame: object) -> None:
        time.sleep(float(os.environ.get("SLOW_HANDLER_SECONDS", "30")))  # BUG: slow work before the checkpoint
        save_checkpoint(ckpt_path, state)
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
