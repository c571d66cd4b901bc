"""BUGGY on purpose -- bug class: a fresh run id on every start.

Same as ``examples/train.py`` except that the run id is generated anew by every process start: it
ignores ``--run-id``, ``WANDB_RUN_ID`` and the id stored in the checkpoint, and calls
``wandb.init(id=<new random id>, resume="allow")``. ``resume="allow"`` cannot help: the id never
exists yet, so every start creates a new run (R04).

What goes wrong in production: after each preemption the requeued job starts a NEW W&B run at step
0 while the weights continue from the checkpoint; the old run stays PREEMPTED forever and the
history is split over as many runs as there were restarts.

Rules broken: R21, R28 (fix the run id before init and reuse it on restart), hence R03/R35.

    python run_id_per_start.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
"""

from __future__ import annotations

import secrets
import signal
import sys
from pathlib import Path

import wandb
from _common import load_checkpoint, make_data, parse_args, save_checkpoint, sgd_step


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    ckpt_path = Path(args.ckpt)
    state = load_checkpoint(ckpt_path)
    run_id = secrets.token_hex(4)  # BUG: a new id every start; --run-id/WANDB_RUN_ID/checkpoint ignored (R21, R28)
    state["run_id"] = run_id
    save_checkpoint(ckpt_path, state)

    run = wandb.init(project=args.project, id=run_id, resume="allow", config={"lr": args.lr, "steps": args.steps})
    start = state["step"] + 1
    print(f"run {run.id} resumed={run.resumed} starting_step={run.starting_step} from checkpoint step {start}")

    def on_preemption(signum: int, frame: object) -> None:
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
