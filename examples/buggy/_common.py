"""What every script of the bug catalogue shares and none of its bugs touches.

The data and the SGD step of the small linear regression, the atomic checkpoint write and read,
the correct run-id rule, and the standard command line. Each buggy script keeps in its own file what
its bug lives in -- ``wandb.init``, the preemption handler, the training loop -- next to its
``# BUG:`` comment; ``examples/train.py`` is the correct script in full. Imported as
``from _common import ...``: running ``python examples/buggy/x.py`` puts this directory on
``sys.path``. Not a catalogue entry itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
from pathlib import Path


def make_data(n: int = 64, seed: int = 0) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(x, 3.0 * x - 1.0 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(n))]


def sgd_step(w: float, b: float, data: list[tuple[float, float]], lr: float) -> tuple[float, float, float]:
    gw = gb = loss = 0.0
    for x, y in data:
        err = w * x + b - y
        loss += err * err
        gw += 2 * err * x
        gb += 2 * err
    return w - lr * gw / len(data), b - lr * gb / len(data), loss / len(data)


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)  # atomic: a kill mid-write never leaves a torn checkpoint


def load_checkpoint(path: Path) -> dict:
    """The checkpoint's state, or a fresh one (``step`` -1, no run id) when there is none."""
    if path.exists():
        return json.loads(path.read_text())
    return {"w": 0.0, "b": 0.0, "step": -1}


def fixed_run_id(run_id: str | None, state: dict, ckpt_path: Path) -> str:
    """The correct rule (R21, R28): the id from ``--run-id``/``WANDB_RUN_ID``, else the checkpoint's,
    else a new one -- fixed before ``wandb.init`` and persisted with the checkpoint at once."""
    run_id = run_id or state.get("run_id") or secrets.token_hex(4)  # wandb.util has no generate_id in 0.31
    state["run_id"] = run_id
    save_checkpoint(ckpt_path, state)
    return run_id


def parse_args(doc: str | None, argv: list[str] | None = None) -> argparse.Namespace:
    """The standard options: ``--run-id`` (default ``WANDB_RUN_ID``), ``--project``, ``--steps``,
    ``--lr``, ``--ckpt``, ``--ckpt-every``; the description is the first line of ``doc``."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    p.add_argument("--run-id", default=os.environ.get("WANDB_RUN_ID"))
    p.add_argument("--project", default="runresume-example")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--ckpt", default="checkpoint.json")
    p.add_argument("--ckpt-every", type=int, default=5)
    return p.parse_args(argv)
