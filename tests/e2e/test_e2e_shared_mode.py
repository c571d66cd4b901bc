"""Shared mode (R94-R96) with the real SDK: two processes write one run at the same time; the
backend numbers the steps and keeps every row once."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest

from pytest_runresume import RunResult

WRITER = """
    import sys, wandb
    role = sys.argv[1]
    settings = wandb.Settings(mode="shared", x_primary=role == "primary", x_label=role)
    if role != "primary":
        settings.x_update_finish_state = False  # a worker must not finish the run early (R95)
    run = wandb.init(project="shared", id="sh1", settings=settings)
    for i in range(5):
        run.log({f"x_{role}": i, "step_in_" + role: i})
    run.finish()
"""


@pytest.mark.rules("R94", "R95", "R96")
def test_two_shared_mode_writers_get_backend_numbered_steps(runresume, tmp_path: Path):
    """R94/R96: a primary and a worker log 5 rows each at the same time, each with client steps
    0..4; the backend ignores the client's _step and numbers all 10 rows 0..9, each row once; the
    summary has both writers' keys (R95). Two writers in shared mode are not a R16 problem."""
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    results: dict[str, RunResult] = {}

    def write(role: str) -> None:
        results[role] = runresume.run(["python", str(script), role])

    writers = [threading.Thread(target=write, args=(role,)) for role in ("primary", "worker")]
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=120)
    assert sorted(results) == ["primary", "worker"]
    assert all(r.returncode == 0 for r in results.values()), [r.report() for r in results.values()]
    run = runresume.model.run("shared/sh1")
    assert run.steps == list(range(10))
    rows = run.history
    assert sorted(r["x_primary"] for r in rows if "x_primary" in r) == list(range(5))
    assert sorted(r["x_worker"] for r in rows if "x_worker" in r) == list(range(5))
    assert {"x_primary", "x_worker"} <= set(run.summary)
    assert runresume.model.problems == []
