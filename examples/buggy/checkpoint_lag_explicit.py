"""BUGGY on purpose -- bug class: checkpoint lag with explicit W&B steps.

Same as ``checkpoint_lag_implicit.py`` (the handler saves no checkpoint, only the periodic one every
``--ckpt-every`` steps), but it logs with an explicit step, ``run.log({...}, step=step)``.

What goes wrong in production: the restart reloads weights from the last periodic checkpoint and
re-logs the steps since then with steps below the resumed run's current step; the SDK drops those
rows and warns on stderr ("Tried to log to step X that is less than the current step Y") (R33, R34).
The W&B history looks fine, but the steps since the checkpoint were trained twice (wasted compute,
and any side effect of those steps -- data order, schedules, artifacts -- happens twice).

Rules broken: R34 (steps must increase; lower ones are dropped), R35 and R68 step 3 (save the
checkpoint at the signal so the restart resumes where W&B does).

    python checkpoint_lag_explicit.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
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
        run.log({"loss": loss, "w": w, "b": b}, step=step)  # re-logged steps < current step are dropped (R34)
        if (step + 1) % args.ckpt_every == 0:
            save_checkpoint(ckpt_path, state)
    run.summary["final_loss"] = loss
    run.finish()
    ckpt_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
