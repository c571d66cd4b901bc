"""Preconditions of the server-side operations with the real SDK (0.31.0): a refusal reaches the
user as an error and changes nothing; an operation documented to have no effect has none.
(Unit tests of the same rules: ``tests/model/test_model_preconditions.py``.)"""

from __future__ import annotations

import json
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

#: ``Run.stop()`` is in the public API from wandb 0.28, ``Run.update_state()`` from 0.25.
SDK = tuple(int(x) for x in version("wandb").split(".")[:2])

SCRIPT = """
    import json, sys, wandb
    out = {}
    action = sys.argv[1]
    try:
        if action == "fail":
            run = wandb.init(project="pc", id="failed1")
            run.log({"i": 1})
            run.finish(exit_code=1)
            out["ok"] = True
        elif action == "stop":
            run = wandb.Api().run(sys.argv[2])
            run.stop()
            run.stop()
            out["state"] = wandb.Api().run(sys.argv[2]).state
        elif action == "update_state":
            out["ok"] = wandb.Api().run(sys.argv[2]).update_state(sys.argv[3])
        elif action == "rewind":
            wandb.init(project="pc", resume_from=sys.argv[2] + "?_step=1")
            out["ok"] = True
    except Exception as exc:
        out["error"] = type(exc).__name__ + ": " + str(exc)
    print("PRE " + json.dumps(out))
"""


def call(runresume, tmp_path: Path, *args: str) -> dict:
    script = tmp_path / "pre.py"
    script.write_text(textwrap.dedent(SCRIPT))
    result = runresume.run(["python", str(script), *args])
    line = next(line for line in result.stdout.splitlines() if line.startswith("PRE "))
    return json.loads(line[4:])


@pytest.mark.rules("R58")
@pytest.mark.skipif(SDK < (0, 28), reason="wandb < 0.28 has no Run.stop()")
def test_stop_on_a_failed_run_has_no_effect(runresume, tmp_path):
    """``Run.stop()``: "on a run that is no longer running, has no effect" (R58); called twice."""
    assert call(runresume, tmp_path, "fail") == {"ok": True}
    rec = runresume.model.run("pc/failed1")
    assert runresume.model.state(rec) == "failed"
    assert call(runresume, tmp_path, "stop", "testent/pc/failed1") == {"state": "failed"}
    assert not rec.attempt.stop_requested and runresume.model.problems == []


@pytest.mark.rules("R52")
@pytest.mark.skipif(SDK < (0, 25), reason="wandb < 0.25 has no Run.update_state()")
def test_update_state_of_a_sweep_run_is_refused(runresume, tmp_path):
    """``Run.update_state``: "Sweep runs cannot have their state updated" (R52): an error for the
    user, the run unchanged, not a problem of the test."""
    b = runresume.model
    sweep = b.sweeps.create("method: grid\nparameters: {lr: {values: [1]}}", project="pc")
    agent = b.sweeps.create_agent(None, "pc", sweep.name, "h")
    (command,) = b.sweeps.heartbeat(agent.id, {})
    out = call(runresume, tmp_path, "update_state", f"testent/pc/{command['run_id']}", "failed")
    assert "belongs to sweep" in out["error"]
    assert b.state(b.run(f"pc/{command['run_id']}")) == "pending" and b.problems == []


def test_rewinding_a_run_that_does_not_exist_is_refused(runresume, tmp_path):
    """rewind (``resume_from``): the run must exist; ``wandb.init`` raises with the server's text
    and nothing is created."""
    out = call(runresume, tmp_path, "rewind", "ghost")
    assert "does not exist" in out["error"] and "ghost" in out["error"]
    problems = runresume.model.problems
    # wandb < 0.22 still asks for upload URLs of the run its refused init never made (an SDK
    # difference, recorded as a problem of the wire): expected there, and only that one.
    late = [p for p in problems if p.startswith("CreateRunFiles") and "/pc/ghost" in p] if SDK < (0, 22) else []
    assert runresume.model.get(None, "pc", "ghost") is None and problems == late
    problems.clear()
