"""BUGGY on purpose -- bug class: the preemption handler finishes the run before exiting.

Same as ``examples/train.py`` except the handler: it saves the checkpoint, calls
``run.mark_preempting()``, then ``run.finish()`` "so the last metrics get uploaded", then
``sys.exit(128 + signum)``.

What goes wrong in production: ``run.finish()`` reports exit code 0 to W&B, so the run ends FINISHED
(exit 0 always wins, R55/R66/R70a) although the process exits 138; it is never requeued, and a
restart that resumes it finds a finished run. The process's own exit status looks right, which is
why this one survives code review.

Rule broken: R67 (the exit code W&B records must be 128 + signum), hence R66.

    python finish_in_handler.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
"""

from __future__ import annotations

import signal
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

    def on_preemption(signum: int, frame: object) -> None:
        save_checkpoint(ckpt_path, state)
        if wandb.run is not None:
            wandb.run.mark_preempting()
        print(f"preempted by {signal.Signals(signum).name} after step {state['step']}", flush=True)
        if wandb.run is not None:
            wandb.run.finish()  # BUG: reports exit code 0 to W&B: the run is finished, not preempted
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
