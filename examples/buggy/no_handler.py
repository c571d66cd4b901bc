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

import sys
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
