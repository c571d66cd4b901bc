"""A DDP training script for ``torchrun --max-restarts``: a preempted worker is restarted inside the
same ``torchrun`` command, and resumes the same W&B run from its checkpoint.

    torchrun --standalone --nproc-per-node 1 --max-restarts 1 train_ddp.py --run-id ID --steps 12

CPU, the ``gloo`` backend. torchrun's elastic agent restarts the whole worker group when a worker
exits non-zero, up to ``--max-restarts`` times, with ``TORCHELASTIC_RESTART_COUNT`` = 0, 1, ...
(``torch/distributed/elastic/agent/server/api.py``). So a worker that handles the preemption signal
(checkpoint, ``run.mark_preempting()``, exit 128 + signum, R67/R68) comes back at once, loads the
checkpoint and resumes the W&B run (``resume="allow"``) whose id it was given: the id must not be
drawn at start, or every restart is a new run (``--run-id`` left out shows that mistake).
Rank 0 alone logs to W&B and writes the checkpoint.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import wandb
from torch.nn.parallel import DistributedDataParallel


def save(path: Path, state: dict) -> None:
    """Write the checkpoint atomically (a kill mid-write never leaves a torn file)."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Train to ``--steps`` from the checkpoint, if any; exit 128 + signum when preempted."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-id", default=None, help="the W&B run id (left out: a new one at every start, a mistake)")
    p.add_argument("--project", default="runresume-torchrun")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--ckpt", default="ddp-checkpoint.pt")
    args = p.parse_args(argv)

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(1, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ckpt = Path(args.ckpt)
    step = -1
    if ckpt.exists():
        state = torch.load(ckpt)
        model.module.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
    x = torch.linspace(-1, 1, 64).unsqueeze(1)
    y = 3 * x - 1

    run = None
    if rank == 0:
        run_id = args.run_id or secrets.token_hex(4)
        run = wandb.init(project=args.project, id=run_id, resume="allow")
        restart = os.environ.get("TORCHELASTIC_RESTART_COUNT")
        print(f"run {run.id} restart {restart} resumed={run.resumed} from step {step + 1}", flush=True)

    def on_preemption(signum: int, frame: object) -> None:
        if rank == 0:
            save(ckpt, {"model": model.module.state_dict(), "opt": opt.state_dict(), "step": step})
            if run is not None:
                run.mark_preempting()
        print(f"rank {rank} preempted by {signal.Signals(signum).name} after step {step}", flush=True)
        sys.exit(128 + signum)

    for sig in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(sig, on_preemption)

    for next_step in range(step + 1, args.steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        step = next_step  # the state the handler saves: this step is done
        if run is not None:
            run.log({"loss": loss.item(), "train_step": step})
    if run is not None:
        run.finish()
    if rank == 0:
        ckpt.unlink(missing_ok=True)  # done: a rerun starts fresh
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
