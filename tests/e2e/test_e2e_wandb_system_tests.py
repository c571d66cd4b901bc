"""What W&B's own system tests (``tests/system_tests`` of wandb's repository, run against the fake
with ``tools/wandb_system_tests.py``) check and the fake did not answer, each with the real SDK in
a real subprocess:

- ``test_public_api.py::test_run_update_state_failure``: a refused ``Run.update_state`` (R52) is
  a ``wandb.Error`` whose text says ``invalid state transition``, as the server's does;
- ``test_public_api.py::test_viewer``: ``api.viewer.api_keys`` names the one key by its first
  characters (a prefix of the key the client sent);
- ``test_sweep_public_api.py::test_project_sweeps``: ``project.sweeps()`` (``GetSweeps``) lists a
  project's sweeps, paged, and none for a project without sweeps;
- ``test_sweep_public_api.py::test_sweep_with_edited_display_name``: ``UpsertSweep`` with the
  sweep's id and a ``displayName`` renames it (``Sweep.name`` is then that name).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pytest_runresume.model import sdk_versions

UPDATE_TWICE = """
    import json, wandb
    api = wandb.Api()
    seed = api.create_run(project="gates")
    run = api.run(f"{seed.entity}/{seed.project}/{seed.id}")
    out = {"first": run.update_state("failed"), "state": run.state}
    try:
        run.update_state("failed")
        out["second"] = None
    except wandb.Error as exc:
        out["second"] = str(exc)
    print("GATES " + json.dumps(out))
"""

VIEWER = """
    import json, wandb
    viewer = wandb.Api().viewer
    print("GATES " + json.dumps({"api_keys": list(viewer.api_keys), "teams": list(viewer.teams)}))
"""

PROJECT_SWEEPS = """
    import json, wandb
    config = {"method": "grid", "parameters": {"lr": {"values": [1, 2]}}}
    made = [wandb.sweep(config, project="swept") for _ in range(3)]
    wandb.sweep(config, project="elsewhere")
    with wandb.init(project="unswept") as run:
        pass
    api = wandb.Api()
    swept = api.from_path(f"{run.entity}/swept")
    out = {
        "made": made,
        "len": len(swept.sweeps()),
        "ids": [s.id for s in swept.sweeps()],
        "paged": [s.id for s in swept.sweeps(per_page=2)],
        "unswept": len(api.from_path(f"{run.entity}/unswept").sweeps()),
        "config": swept.sweeps()[0].config,
    }
    print("GATES " + json.dumps(out))
"""

RENAME = """
    import json, wandb
    from wandb.apis.public import sweeps
    config = {"name": "first name", "method": "grid", "parameters": {"lr": {"values": [1, 2]}}}
    sweep_id = wandb.sweep(config, project="renamed")
    api = wandb.Api()
    path = f"{api.default_entity}/renamed/sweeps/{sweep_id}"
    original = api.sweep(path)
    upsert = getattr(sweeps, "_upsert_sweep", None)  # what `wandb sweep` calls (wandb 0.31)
    if upsert is not None:
        upsert(api, config, obj_id=original._attrs["id"], project="renamed", display_name="Updated Sweep Name")
    print("GATES " + json.dumps({"upsert": upsert is not None, "before": original.name,
                                 "after": wandb.Api().sweep(path).name}))
"""


def _run(runresume, tmp_path: Path, text: str) -> dict:
    script = tmp_path / "gates.py"
    script.write_text(textwrap.dedent(text))
    result = runresume.run(["python", str(script)])
    assert result.returncode == 0, result.report()
    lines = [line for line in result.stdout.splitlines() if line.startswith("GATES ")]
    assert len(lines) == 1, result.report()
    return json.loads(lines[0][len("GATES ") :])


@pytest.mark.rules("R52")
def test_a_refused_update_state_says_invalid_state_transition(runresume, tmp_path):
    """running -> failed is allowed; failed -> failed is refused with the server's words."""
    if not sdk_versions.has("run_update_state"):
        pytest.skip("this wandb has no Run.update_state (docs/sdk-versions.md, run_update_state)")
    out = _run(runresume, tmp_path, UPDATE_TWICE)
    assert out["first"] is True and out["state"] == "failed"
    assert out["second"] is not None and "invalid state transition" in out["second"]
    runresume.model.problems.clear()  # the refusal is the point, not a problem of the code under test


def test_the_viewer_names_its_api_key_by_the_key_s_first_characters(runresume, wandb_server, tmp_path):
    out = _run(runresume, tmp_path, VIEWER)
    assert len(out["api_keys"]) == 1
    name = out["api_keys"][0]
    assert name and wandb_server.api_key.startswith(name) and name != wandb_server.api_key
    assert out["teams"] == [runresume.model.entity]


def test_project_sweeps_lists_the_project_s_sweeps_paged(runresume, tmp_path):
    out = _run(runresume, tmp_path, PROJECT_SWEEPS)
    assert out["len"] == 3
    assert sorted(out["ids"]) == sorted(out["made"]) and out["paged"] == out["ids"]  # two pages, same list
    assert out["unswept"] == 0
    assert out["config"]["parameters"] == {"lr": {"values": [1, 2]}}


def test_upsert_sweep_with_a_display_name_renames_the_sweep(runresume, tmp_path):
    out = _run(runresume, tmp_path, RENAME)
    if not out["upsert"]:
        pytest.skip("this wandb has no wandb.apis.public.sweeps._upsert_sweep (before 0.31)")
    assert out["before"] == "first name" and out["after"] == "Updated Sweep Name"
