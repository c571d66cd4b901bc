"""BUGGY on purpose -- bug class: checkpoint lag with implicit W&B steps.

Same as ``examples/train.py`` except that the preemption handler does not save a checkpoint: only
the periodic one every ``--ckpt-every`` (5) steps exists. Logging uses implicit steps,
``run.log({..., "train_step": step})``.

What goes wrong in production: after a handled preemption the restart resumes the W&B run at its
last step + 1 (R35) but reloads weights from the last periodic checkpoint, so the steps in between
are trained again and logged again under NEW W&B steps: the history has more rows than training
steps, and the ``train_step`` values since that checkpoint appear twice. W&B's own ``_step`` is
contiguous, so a check on ``_step`` alone does not see it.

Rules broken: R35/R36 (one logged step per training step: the checkpoint must be saved at the
signal, R68 step 3).

    python checkpoint_lag_implicit.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
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
        # BUG: no checkpoint here; the restart goes back to the last periodic one (R68)
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
