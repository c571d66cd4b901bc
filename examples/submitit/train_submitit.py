"""A training job submitted with the real ``submitit``, preempted and requeued, one W&B run throughout.

    python train_submitit.py --run-id ID --steps 12 [--folder submitit-logs] [--mistake NAME]

submits :class:`TrainJob` to a ``submitit.LocalExecutor`` (the same job runs on SLURM with
``AutoExecutor``) and waits for its result. What makes it survive a preemption, as submitit 1.5
does it (``submitit/core/job_environment.py``, ``submitit/local/local.py``):

- submitit's preemption signal is SIGUSR2 (``SUBMITIT_PREEMPT_SIGNAL``); submitit installs the
  handler itself. On the signal it calls the job's ``checkpoint()`` with the job's arguments, pickles
  the ``DelayedSubmission`` it returns over the submission, and requeues: on SLURM ``scontrol
  requeue`` then exit 255; with ``LocalExecutor`` exit 144, on which the controller starts the task
  again from the pickle (same job id). ``checkpoint()`` returning ``None`` means "do not requeue":
  submitit raises ``UncompletedJobError`` and the job fails.
- :meth:`TrainJob.checkpoint` marks the W&B run preempting (the process then exits 144, non-zero,
  so W&B shows the run ``preempted`` between the two starts: R65, R67) and returns the job itself:
  its pickle carries the weights, the last step and the **run id**, which ``__init__`` fixed at
  submission time, so the restart resumes the same run (``resume="allow"``, R03, R21).
- The training state is updated before each ``run.log`` (one assignment), so whatever step the
  signal lands after, the checkpoint holds exactly what W&B has.

``--mistake`` makes the job wrong in one classic way, to show the harness catching it:
``new-run-id`` (the id is drawn in ``__call__``, at every start), ``no-checkpoint`` (no
``checkpoint()`` method: submitit requeues the original submission, which trains from step 0
again), ``checkpoint-none`` (``checkpoint()`` returns ``None``: never requeued).
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
from typing import Any

import submitit
import wandb

TRUE_W, TRUE_B = 3.0, -1.0


def make_data(n: int = 64, seed: int = 0) -> list[tuple[float, float]]:
    """The regression data: ``n`` points of y = 3x - 1 + noise, the same at every start."""
    rng = random.Random(seed)
    return [(x, TRUE_W * x + TRUE_B + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(n))]


class TrainJob:
    """Linear regression by SGD, logging to one W&B run; checkpointable by submitit.

    Args:
        steps: the number of optimizer steps (W&B steps 0..steps-1).
        run_id: the W&B run id; ``None`` draws one now, at submission, so it is pickled with the job.
        project: the W&B project.
        lr: the learning rate.
    """

    def __init__(self, steps: int, run_id: str | None = None, project: str = "runresume-submitit", lr: float = 0.1):
        self.steps = steps
        self.run_id = run_id or secrets.token_hex(4)
        self.project = project
        self.lr = lr
        self.state: dict[str, Any] = {"w": 0.0, "b": 0.0, "step": -1}  # replaced whole, never mutated

    def run_id_for_this_start(self) -> str:
        """The run id ``__call__`` uses: the one fixed at submission."""
        return self.run_id

    def __call__(self) -> float:
        """Train from the checkpointed step to ``steps``; return the final loss."""
        run = wandb.init(project=self.project, id=self.run_id_for_this_start(), resume="allow", config={"lr": self.lr})
        start = self.state["step"] + 1
        print(f"run {run.id} resumed={run.resumed} starting_step={run.starting_step} from step {start}", flush=True)
        data = self.data()
        loss = float("nan")
        for step in range(start, self.steps):
            w, b = self.state["w"], self.state["b"]
            gw = gb = loss = 0.0
            for x, y in data:
                err = w * x + b - y
                loss += err * err
                gw += 2 * err * x
                gb += 2 * err
            n = len(data)
            self.state = {"w": w - self.lr * gw / n, "b": b - self.lr * gb / n, "step": step}
            run.log({"loss": loss / n, "train_step": step})
        run.finish()
        return loss / len(data)

    def data(self) -> list[tuple[float, float]]:
        """The training data."""
        return make_data()

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission | None:
        """submitit calls this in its SIGUSR2 handler: mark the W&B run preempting and requeue this
        job as it is now (weights, step and run id), to be called again on the restart."""
        if wandb.run is not None:
            wandb.run.mark_preempting()
        print(f"checkpoint at step {self.state['step']}", flush=True)
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


class NewRunIdJob(TrainJob):
    """Mistake: the run id is drawn when the job starts, not when it is submitted."""

    def run_id_for_this_start(self) -> str:
        """A fresh id at every start: the restart writes a second run."""
        return secrets.token_hex(4)


class CheckpointNoneJob(TrainJob):
    """Mistake: ``checkpoint()`` returns ``None``, which tells submitit not to requeue."""

    def checkpoint(self, *args: Any, **kwargs: Any) -> None:
        """Marks the run preempting, but returns nothing: submitit fails the job instead."""
        if wandb.run is not None:
            wandb.run.mark_preempting()
        return None


class NoCheckpointJob:
    """Mistake: no ``checkpoint()``. submitit still requeues a preempted job, but from the original
    submission: training starts again at step 0 inside the resumed run."""

    def __init__(self, steps: int, run_id: str | None = None, project: str = "runresume-submitit"):
        self.job = TrainJob(steps, run_id, project)

    def __call__(self) -> float:
        """Train, as :class:`TrainJob` does."""
        return self.job()


MISTAKES = {"new-run-id": NewRunIdJob, "checkpoint-none": CheckpointNoneJob, "no-checkpoint": NoCheckpointJob}


def main(argv: list[str] | None = None) -> int:
    """Submit the job to a ``LocalExecutor`` and wait: exit 0 with its result; if it failed, raise (exit 1)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-id", default=None)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--folder", default="submitit-logs", help="submitit's folder (pickles, logs)")
    p.add_argument("--mistake", choices=sorted(MISTAKES), default=None)
    args = p.parse_args(argv)

    job_cls = MISTAKES[args.mistake] if args.mistake else TrainJob
    executor = submitit.LocalExecutor(folder=args.folder)
    # timeout_min: a signal before 80% of it (and before timeout - 10 min) is a preemption, not a
    # timeout, for submitit; 60 min is far above any test run.
    executor.update_parameters(timeout_min=60)
    job = executor.submit(job_cls(args.steps, args.run_id))
    loss = job.result()  # a failed job raises here, with the task's traceback: exit 1
    print(f"job {job.job_id} done: final loss {loss:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
