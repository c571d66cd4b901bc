"""Lightning on SLURM, preempted and requeued: auto-requeue, checkpoints, one W&B run throughout.

A tiny regression model trained on the CPU with the real ``lightning`` package:

    srun python train_lightning.py --root DIR [--run-id ID] [--max-steps 40] [--step-sleep 0.05]

What makes it survive a preemption (each piece follows Lightning's own source, 2.6):

- ``SLURMEnvironment(auto_requeue=True)``: on the requeue signal (``requeue_signal``, SIGUSR1 by
  default) Lightning's ``_SignalConnector`` saves ``DIR/hpc_ckpt_<N>.ckpt``, then rank 0 runs
  ``scontrol requeue $SLURM_JOB_ID`` (``src/lightning/pytorch/trainer/connectors/signal_connector.py``).
  The handler then returns and training goes on: SLURM itself ends the job (SIGTERM to every
  step, SIGKILL after ``KillWait``) and starts the same script again with the same job id.
  Lightning does not install its SIGUSR1 handler when one is already set.
- On SIGTERM Lightning sets ``trainer.received_sigterm`` and its loops raise
  ``SIGTERMException`` (a ``SystemExit``) at the next batch boundary.
- ``ModelCheckpoint(save_last=True, every_n_train_steps=...)`` keeps ``DIR/checkpoints/last.ckpt``.
- On start, ``trainer.fit(ckpt_path=None)`` under SLURM loads the newest ``hpc_ckpt_*.ckpt`` of
  ``default_root_dir`` by itself (``_CheckpointConnector._parse_ckpt_path``); without one this
  script asks for ``"last"`` (``last.ckpt``) when it exists, else starts from scratch.
- ``WandbLogger(id=RUN_ID, resume="allow")``: the same W&B run id on every restart (by default
  ``slurm-$SLURM_JOB_ID``, which a requeue keeps), so W&B appends to the same run.

Nothing here is specific to the test harness; ``job.sbatch`` beside it is the batch script.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
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
            time.sleep(self.hparams["step_sleep"])  # slow enough for a preemption to land mid-run
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams["lr"])


def make_data(n: int = 256, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    y = 3 * x - 1 + 0.1 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", required=True, help="default_root_dir: hpc checkpoints and checkpoints/last.ckpt")
    p.add_argument("--run-id", default=None, help="W&B run id (default: slurm-$SLURM_JOB_ID)")
    p.add_argument("--project", default="runresume-lightning")
    p.add_argument("--max-steps", type=int, default=40)
    p.add_argument("--ckpt-every", type=int, default=5, help="last.ckpt every N optimizer steps")
    p.add_argument("--step-sleep", type=float, default=0.0, help="seconds to sleep in each step")
    args = p.parse_args(argv)

    job_id = os.environ.get("SLURM_JOB_ID")
    run_id = args.run_id or (f"slurm-{job_id}" if job_id else None)
    if run_id is None:
        p.error("--run-id is required outside a SLURM job")
    root = Path(args.root)
    ckpt_dir = root / "checkpoints"
    torch.manual_seed(0)

    logger = WandbLogger(project=args.project, id=run_id, resume="allow", save_dir=str(root))
    checkpoint = ModelCheckpoint(dirpath=ckpt_dir, save_last=True, every_n_train_steps=args.ckpt_every)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=args.max_steps,
        max_epochs=-1,
        default_root_dir=str(root),
        logger=logger,
        callbacks=[checkpoint],
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
