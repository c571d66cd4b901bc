"""A training script that relies on ``resume="auto"``: buggy when its working directory does not
survive the restart -- bug class: a Kubernetes pod whose working directory is not a volume.

Like ``examples/train.py``, but it passes no run id: ``wandb.init(resume="auto")`` finds the run id
of the previous start in ``wandb/wandb-resume.json`` of ``WANDB_DIR`` (R09, R10), and the
checkpoint (``checkpoint.json``) is in the working directory too. Run as the container's command
with the working directory on a ``persistentVolumeClaim`` this is correct. In the container's own
filesystem (or an ``emptyDir``, which a new pod does not get back) both files are gone after a
preemption: the replacement pod starts a NEW run from step 0 (R12), and the history is split.

    runresume.requeue("python auto_resume_train.py --steps 20", [Trigger.at_step(3)],
                      scheduler=Kubernetes(grace_period=5))                     # BUG: no volume
    ...scheduler=Kubernetes(grace_period=5, volume="persistentVolumeClaim")    # correct

Rules: R09, R12 (resume="auto" reads the id from the directory), R35.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

import wandb


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--project", default="runresume-example")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--ckpt", default="checkpoint.json")
    args = p.parse_args(argv)

    ckpt_path = Path(args.ckpt)
    state = json.loads(ckpt_path.read_text()) if ckpt_path.exists() else {"w": 0.0, "step": -1}
    run = wandb.init(project=args.project, resume="auto")  # the id comes from wandb/wandb-resume.json
    print(f"run {run.id} resumed={run.resumed} from checkpoint step {state['step'] + 1}")

    def on_preemption(signum: int, frame: object) -> None:
        save_checkpoint(ckpt_path, state)
        if wandb.run is not None:
            wandb.run.mark_preempting()
        sys.exit(128 + signum)

    for sig in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(sig, on_preemption)

    w = state["w"]
    for step in range(state["step"] + 1, args.steps):
        w += 0.5 * (3.0 - w)
        state.update(w=w, step=step)
        run.log({"loss": (3.0 - w) ** 2, "train_step": step})
        if (step + 1) % 5 == 0:
            save_checkpoint(ckpt_path, state)
    run.finish()
    ckpt_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
