"""BUGGY on purpose -- bug class: ``run.config.update`` with a changed value on resume.

Same as ``examples/train.py`` except that the learning rate follows a per-step decay and the script
records the current one with ``run.config.update({"lr": ...})`` right after init, without
``allow_val_change=True``. On the first start the value is new; on a restart it is the decayed value
at the checkpoint's step, which differs from the ``lr`` the resumed run's config already holds.

What goes wrong in production: overwriting a config value raises in scripts (R40), so the requeued
process dies right after ``wandb.init`` with a config error and exit 1 -- the run ends FAILED and
is never requeued; the job is stuck after its first preemption. (Values that change during
training belong in ``run.log``.)

Rule broken: R40 (and R39: on resume the stored config is merged back).

    python config_update_on_resume.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
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

    run = wandb.init(project=args.project, id=run_id, resume="allow", config={"steps": args.steps})
    start = state["step"] + 1
    lr = args.lr * 0.9**start  # per-step decay, continued from the checkpoint
    run.config.update({"lr": lr})  # BUG: on resume lr differs from the stored value and this raises (R40)
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
        w, b, loss = sgd_step(w, b, data, lr)
        lr *= 0.9
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
