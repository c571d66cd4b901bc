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
