"""BUGGY on purpose -- bug class: ``wandb.init(id=run_id)`` without ``resume=``.

Same as ``examples/train.py`` except ``wandb.init(id=run_id)`` with ``resume`` left unset.

What goes wrong in production: with ``resume`` unset, init "always starts a new run" (R14): the SDK
does not look the id up and prints no warning; the restart writes to the same run id as a fresh run
-- ``run.resumed`` is False and W&B steps start again at 0 on top of the preempted attempt's history
(what the server keeps is undocumented, wandb/wandb#6216) instead of continuing at the last step + 1.

Rules broken: R03, R14, R35 (pass ``resume="allow"`` or ``"must"`` together with the id).

    python no_resume_arg.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
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

    # BUG: no resume= -- the restart is not a resume (R14)
    run = wandb.init(project=args.project, id=run_id, config={"lr": args.lr, "steps": args.steps})
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
