"""BUGGY on purpose -- bug class: ``mark_preempting()`` called unconditionally after init.

Same as ``examples/train.py`` (the handler is correct) plus one line: ``run.mark_preempting()`` right
after ``wandb.init``, as an older version of the docs showed (R72).

What goes wrong in production: every non-zero exit -- a code bug, a bad config, an OOM -- now
counts as a preemption, so the run ends PREEMPTED and a sweep requeues it again and again (R70b
"always"); a SIGKILL ends PREEMPTED instead of CRASHED after the timeout (R70c "always"). Runs that
complete still end FINISHED, so a happy-path test never notices.

Rule broken: R69 (call ``mark_preempting()`` only in the preemption handler, R68).

    python unconditional_mark_preempting.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
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
    run.mark_preempting()  # BUG: unconditional, every failure now looks like a preemption (R69)
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
