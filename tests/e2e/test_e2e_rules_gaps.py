"""End to end, with the real wandb SDK (0.31.0) against the fake: rules closed late. Renaming keeps the id
(R30), a deleted run's id can't be reused until it is undeleted (R25, R26), a run marked crashed while
its process kept logging recovers (R64), and ``fork_from`` with the source's own id raises (R46).
Errors are matched on their class, never on wording (NOTES 5).
"""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path

import pytest

PROJECT = "m"  # the project of tests/e2e/conftest.py's init script

API = """
    import json, sys, wandb

    args = json.loads(sys.argv[1])
    path = args["path"]
    out = {}
    if args.get("sdk_rename"):
        run = wandb.init(project="m", id=path.split("/")[-1], name="first")
        run.log({"x": 1})
        run.name = args["sdk_rename"]
        run.finish()
    for verb, arg in args.get("do", []):
        try:
            if verb == "name":
                out.setdefault("names", []).append([wandb.Api().run(path).name, wandb.Api().run(path).id])
            elif verb == "rename":
                api_run = wandb.Api().run(path)
                api_run.name = arg
                api_run.update()
            elif verb == "delete":
                wandb.Api().run(path).delete()
            elif verb == "find":
                out["found"] = wandb.Api().run(path).id
        except Exception as exc:
            out[verb] = type(exc).__name__
    print("E2E-API " + json.dumps(out), flush=True)
"""

#: Logs one step every 0.05 s until the file ``go`` exists (the test creates it), then 2 more, finishes.
SLOW = """
    import os, time, wandb

    run = wandb.init(project="m", id="late64")
    step = 0
    deadline = time.monotonic() + 60
    while not os.path.exists("go") and time.monotonic() < deadline:
        run.log({"i": step})
        step += 1
        time.sleep(0.05)
    for _ in range(2):
        run.log({"i": step})
        step += 1
    run.finish()
"""


@pytest.fixture
def api(runresume, tmp_path: Path):
    """``api(path, do=[[verb, arg]], sdk_rename=None)`` -> the printed dict."""
    script = tmp_path / "e2e_api.py"
    script.write_text(textwrap.dedent(API))

    def _api(path: str, **args):
        result = runresume.run(["python", str(script), json.dumps({"path": path, **args})])
        assert result.returncode == 0, result.report()
        (line,) = [x for x in result.stdout.splitlines() if x.startswith("E2E-API ")]
        return json.loads(line[len("E2E-API ") :])

    return _api


@pytest.mark.rules("R30")
def test_R30_rename_from_the_sdk_and_the_public_api_keeps_the_id(runresume, api):
    """R30: ``run.name = "second"`` in the running process, then ``run.name = "third"; run.update()``
    through the public API: the display name changes each time, the id does not, and there is still
    one run (with one process)."""
    path = f"{runresume.model.entity}/{PROJECT}/name30"
    out = api(path, sdk_rename="second", do=[["name", None], ["rename", "third"], ["name", None]])
    assert out == {"names": [["second", "name30"], ["third", "name30"]]}
    rec = runresume.model.run(path)
    assert (rec.key.run_id, rec.display_name) == ("name30", "third")
    assert len(runresume.model.runs) == 1 and len(rec.attempts) == 1
    assert runresume.model.problems == []


@pytest.mark.rules("R25", "R26")
def test_R25_R26_deleted_run_id_cannot_be_reused_until_undeleted(runresume, api, e2e_launch):
    """R25: after ``wandb.Api().run(path).delete()`` the public API no longer finds the run and
    ``wandb.init(id=...)`` with its id fails (the refused UpsertBucket is a GraphQL error: wandb.Error).
    R26: undeleted (the model's control action; the SDK has none) it is back and resumes."""
    path = f"{runresume.model.entity}/{PROJECT}/del25"
    first, out = e2e_launch(id="del25")
    assert out["id"] == "del25" and first.returncode == 0, first.report()
    assert api(path, do=[["delete", None], ["find", None]]) == {"find": "CommError"}
    assert runresume.model.is_deleted(None, PROJECT, "del25")
    refused, out = e2e_launch(id="del25")
    assert out["error"] == "Error", refused.report()
    assert runresume.model.get(None, PROJECT, "del25") is None

    runresume.model.undelete(path)
    resumed, out = e2e_launch(id="del25", resume="must")
    assert (out["resumed"], out["starting_step"]) == (True, 3), resumed.report()
    resumed.expect(state="finished")


@pytest.mark.rules("R64")
def test_R64_run_marked_crashed_while_logging_recovers_and_finishes(runresume, tmp_path: Path):
    """R64: the backend clock jumps past the crash timeout while the process keeps logging: the run
    reads crashed; the same process's next requests make it running again, and its exit 0 makes it
    finished, with every step kept and one process."""
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(SLOW))
    model = runresume.model
    seen: list[str] = []

    def crash_then_release() -> None:
        rec = model.wait_for(lambda: model.get(None, PROJECT, "late64"), timeout=60)
        model.wait_for(lambda: (rec.last_step or 0) >= 1, timeout=60)
        runresume.advance_clock(model.crash_timeout)
        seen.append(model.state(rec))
        (tmp_path / "go").write_text("")
        model.wait_for(lambda: model.state(rec) != "crashed", timeout=60)
        seen.append(model.state(rec))

    watcher = threading.Thread(target=crash_then_release)
    watcher.start()
    result = runresume.run(["python", str(script)], cwd=tmp_path)
    watcher.join(timeout=60)
    assert seen[:1] == ["crashed"] and seen[1:] in (["running"], ["finished"]), (seen, result.report())
    result.expect(state="finished", exit_code=0)
    run = result.run
    assert len(run.attempts) == 1 and run.steps == list(range(len(run.steps)))


@pytest.mark.rules("R46")
def test_R46_fork_from_with_the_source_id_raises(runresume, e2e_launch):
    """R46: ``wandb.init(id=<source>, fork_from="<source>?_step=1")`` raises at init (the id must
    differ from the source's); the source run gets no second process."""
    e2e_launch(id="src46")
    result, out = e2e_launch(id="src46", init={"fork_from": "src46?_step=1"})
    assert out["error"] == "ValidationError", result.report()  # pydantic, from wandb.Settings
    assert len(runresume.model.run(f"{PROJECT}/src46").attempts) == 1
