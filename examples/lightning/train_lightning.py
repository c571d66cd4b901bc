"""Lightning on SLURM, preempted and requeued: auto-requeue, checkpoints, one W&B run throughout.

A tiny regression model trained on the CPU with the real ``lightning`` package:

    srun python train_lightning.py --root DIR [--run-id ID|none] [--max-steps 40]
                                   [--on-preemption stop|lightning] [--step-sleep 0.05]

What makes it survive a preemption (each piece follows Lightning's own source, 2.6):

- ``SLURMEnvironment(auto_requeue=True)``: on the requeue signal (``requeue_signal``, SIGUSR1 by
  default) Lightning's ``_SignalConnector`` saves ``DIR/hpc_ckpt_<N>.ckpt``, then rank 0 runs
  ``scontrol requeue $SLURM_JOB_ID`` (``src/lightning/pytorch/trainer/connectors/signal_connector.py``).
  Lightning's handler then returns and **training goes on** until SLURM ends the job (SIGTERM to
  every step, SIGKILL after ``KillWait``). On SIGTERM Lightning only sets
  ``trainer.received_sigterm``; its loops raise ``SIGTERMException`` (a ``SystemExit`` without a
  code) at the next batch boundary, so the process **exits 0**. For W&B both are wrong: the steps
  trained after the hpc checkpoint are trained and logged again by the restart, and an exit 0
  marks the run ``finished`` although it was preempted (rules R66, R67 of ``rules.md``).
- :class:`StopOnPreemption` (``--on-preemption stop``, the default) fixes both: it marks the W&B
  run preempting at once, does Lightning's work at the end of the current batch (hpc checkpoint
  and requeue on SIGUSR1; on SIGTERM the hpc checkpoint) and exits ``128 + signum`` before the
  next batch. ``--on-preemption lightning`` leaves Lightning's handlers alone: the
  classic mistakes, kept runnable so the tests can show the harness catching them.
- On start, ``trainer.fit(ckpt_path=None)`` under SLURM loads the newest ``hpc_ckpt_*.ckpt`` of
  ``default_root_dir`` by itself (``_CheckpointConnector._parse_ckpt_path``); without one this
  script asks for ``"last"`` (``checkpoints/last.ckpt``, kept by ``ModelCheckpoint``) when it
  exists, else starts from scratch.
- ``WandbLogger(id=RUN_ID, resume="allow")``: the same W&B run id on every restart (by default
  ``slurm-$SLURM_JOB_ID``, which a requeue keeps), so W&B appends to the same run. ``--run-id
  none`` passes no id: ``WandbLogger`` then makes a new run at every start (a classic mistake).

Nothing here is specific to the test harness; ``job.sbatch`` beside it is the batch script.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.plugins.environments import SLURMEnvironment
from torch.utils.data import DataLoader, TensorDataset


class Regression(L.LightningModule):
    """y = 3x - 1 plus noise, fitted by one linear layer; logs ``loss`` every step."""

    def __init__(self, lr: float = 0.1, step_sleep: float = 0.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("loss", loss, on_step=True, prog_bar=False)
        if self.hparams["step_sleep"]:
            time.sleep(self.hparams["step_sleep"])  # manual trials: slow enough to signal by hand
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams["lr"])


class StopOnPreemption(Callback):
    """End the process as preempted, at a batch boundary Lightning can resume from exactly.

    At ``on_train_start`` (Lightning has installed its signal handlers by then) it replaces the
    handler of each signal in ``signals`` with its own, keeping Lightning's. When one arrives it
    calls ``run.mark_preempting()`` on the W&B run at once (``scontrol requeue`` makes SLURM end
    the job right away, ``wandb-core`` included, so the server learns it first), and only notes
    the signal. At the next ``on_train_batch_end`` it does Lightning's work: for the requeue signal
    Lightning's own handler (hpc checkpoint and ``scontrol requeue``), for any other (SIGTERM) the
    hpc checkpoint, which Lightning does not save. That batch's metrics are still logged; at the
    next ``on_train_batch_start`` it exits ``128 + signum``. So W&B marks the run ``preempted``
    (R65, R67, R68), and the restart trains and logs from the next batch: ``trainer/global_step``
    goes on without a repeat or a gap.

    Why not in the signal handler, as Lightning does: the handler runs wherever the signal lands.
    Lightning resumes a checkpoint saved at ``on_train_batch_end`` exactly (its loops count that
    batch as done), but one saved while the batch's metrics are being logged (between the loop's
    ``increment_completed`` and ``_batches_that_stepped += 1``) makes the restart log the same
    ``trainer/global_step`` again (Lightning 2.6, ``_TrainingEpochLoop.reset``). Lightning
    restores the previous handlers when ``fit`` ends.

    Args:
        requeue_signal: the signal Lightning's ``SLURMEnvironment`` requeues on.
        signals: the signals to handle (default: the requeue signal and SIGTERM).
    """

    def __init__(
        self, requeue_signal: signal.Signals = signal.SIGUSR1, signals: tuple[signal.Signals, ...] = ()
    ) -> None:
        self.requeue_signal = requeue_signal
        self.signals = signals or (requeue_signal, signal.SIGTERM)
        self.received: int | None = None  # the signal being handled
        self.checkpointed = False
        self._lightning_handlers: dict[int, Any] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for sig in self.signals:
            self._lightning_handlers[sig] = signal.getsignal(sig)
            signal.signal(sig, functools.partial(self._on_signal, trainer))

    def _on_signal(self, trainer: L.Trainer, signum: int, frame: Any) -> None:
        if self.received is not None:
            return  # already stopping
        self.received = signum
        if isinstance(trainer.logger, WandbLogger):
            trainer.logger.experiment.mark_preempting()
        print(f"got {signal.Signals(signum).name} at global_step {trainer.global_step}: stopping", flush=True)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self.received is None or self.checkpointed:
            return
        self.checkpointed = True
        lightning_handler = self._lightning_handlers.get(self.received)
        if self.received == self.requeue_signal and callable(lightning_handler):
            lightning_handler(self.received, None)  # hpc checkpoint + scontrol requeue
        else:
            trainer.save_checkpoint(trainer._checkpoint_connector.hpc_save_path(trainer.default_root_dir))

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self.checkpointed and self.received is not None:
            print(f"preempted by {signal.Signals(self.received).name} at global_step {trainer.global_step}", flush=True)
            sys.exit(128 + self.received)


def make_data(n: int = 256, seed: int = 0) -> TensorDataset:
    """The regression data set: ``n`` points of y = 3x - 1 + noise, the same for every start."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    y = 3 * x - 1 + 0.1 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


def main(argv: list[str] | None = None) -> int:
    """Train to ``--max-steps``, resuming from the newest hpc or last checkpoint of ``--root``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", required=True, help="default_root_dir: hpc checkpoints and checkpoints/last.ckpt")
    p.add_argument("--run-id", default=None, help="W&B run id (default: slurm-$SLURM_JOB_ID; 'none': no id)")
    p.add_argument("--project", default="runresume-lightning")
    p.add_argument("--max-steps", type=int, default=40)
    p.add_argument("--ckpt-every", type=int, default=5, help="last.ckpt every N optimizer steps")
    p.add_argument(
        "--on-preemption",
        choices=("stop", "lightning"),
        default="stop",
        help="stop: checkpoint, mark the W&B run preempting, exit 128+signum; lightning: Lightning's handlers only",
    )
    p.add_argument("--step-sleep", type=float, default=0.0, help="seconds to sleep in each step (manual trials)")
    args = p.parse_args(argv)

    job_id = os.environ.get("SLURM_JOB_ID")
    if args.run_id == "none":
        run_id = None  # WandbLogger lets wandb make a new id: a new run at every start
    else:
        run_id = args.run_id or (f"slurm-{job_id}" if job_id else None)
        if run_id is None:
            p.error("--run-id is required outside a SLURM job")
    root = Path(args.root)
    ckpt_dir = root / "checkpoints"
    torch.manual_seed(0)

    logger = WandbLogger(project=args.project, id=run_id, resume="allow", save_dir=str(root))
    callbacks: list[Callback] = [ModelCheckpoint(dirpath=ckpt_dir, save_last=True, every_n_train_steps=args.ckpt_every)]
    if args.on_preemption == "stop":
        callbacks.append(StopOnPreemption())
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=args.max_steps,
        max_epochs=-1,
        default_root_dir=str(root),
        logger=logger,
        callbacks=callbacks,
        plugins=[SLURMEnvironment(auto_requeue=True)],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    has_hpc = any(root.glob("hpc_ckpt_*.ckpt"))
    # With an hpc checkpoint, ckpt_path=None lets Lightning pick the newest one (SLURM detected).
    ckpt_path = None if has_hpc or not (ckpt_dir / "last.ckpt").exists() else "last"
    print(
        f"run {run_id}: restart {os.environ.get('SLURM_RESTART_COUNT', '-')}, "
        f"resume from {'hpc checkpoint' if has_hpc else ckpt_path or 'scratch'}",
        flush=True,
    )
    data = DataLoader(make_data(), batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(1))
    trainer.fit(Regression(step_sleep=args.step_sleep), data, ckpt_path=ckpt_path)
    print(f"done at global_step {trainer.global_step}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
