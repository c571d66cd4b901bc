"""BUGGY on purpose -- bug class: ``resume="must"`` on every start.

Same as ``examples/train.py`` except ``wandb.init(id=run_id, resume="must")`` unconditionally.

What goes wrong in production: ``must`` requires the run to exist (R01, R02), so the very first
start of every job fails in ``wandb.init`` with a usage error and exits 1 -- nothing trains. (Use
``resume="allow"``, or ``"must"`` only when the checkpoint says the run was started.)

Rules broken: R02 (must + unknown id raises), R17; R03/R04 is the right choice.

    python resume_must_first_start.py --run-id my-run --steps 20 [--ckpt checkpoint.json]
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

    # BUG: resume="must" also on the first start, when the run does not exist yet (R02)
    run = wandb.init(project=args.project, id=run_id, resume="must", config={"lr": args.lr, "steps": args.steps})
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
