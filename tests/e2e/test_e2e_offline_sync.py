"""End to end: a run made offline (``WANDB_MODE=offline``), uploaded with the real ``wandb sync`` CLI
to the fake, then resumed online; recorded as tests of what wandb 0.31.0 does.

What it does (all found with these tests):

- offline, nothing reaches the server; ``wandb sync <run dir>`` then replays the run through
  wandb-core: ``UpsertBucket``, ``ServerFeaturesQuery``, ``CreateRunFiles``, uploads and file_stream,
  ending with the exit code and the preempting flag the offline process recorded, so the run's state
  is derived as if it had run online (R55, R66);
- a second ``wandb sync`` of the same directory is skipped (the CLI marks it synced);
- ``resume=`` in an offline run is not checked offline (the process reports ``resumed`` False and
  starting step 0) but is applied at sync time: ``RunResumeStatus``, then the offline steps are
  renumbered to continue after the server's last step (R03, R35); ``must`` on a missing run is not
  an error there, the run is created (R02 not enforced);
- ``wandb sync --id <existing>`` writes into that run without resume: history appended with the
  steps from 0 again (R14, A02).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_runresume import Preemption, Trigger

OFFLINE = {"WANDB_MODE": "offline"}
WANDB = str(Path(sys.executable).with_name("wandb"))

SCRIPT = """
    import json, signal, sys, wandb

    args = json.loads(sys.argv[1])

    def on_preemption(signum, frame):
        wandb.run.mark_preempting()
        sys.exit(128 + signum)

    signal.signal(signal.SIGUSR1, on_preemption)
    run = wandb.init(project="off", **args.get("init", {}))
    print("E2E-RESULT " + json.dumps({"resumed": run.resumed, "starting_step": run.starting_step}), flush=True)
    print("console line", flush=True)
    for i in range(args.get("n", 3)):
        run.log({"i": i})
    run.finish(exit_code=args.get("exit", 0))
"""


@pytest.fixture
def script(tmp_path: Path) -> str:
    path = tmp_path / "e2e_offline.py"
    path.write_text(textwrap.dedent(SCRIPT))
    return str(path)


@pytest.fixture
def launch(e2e_launch, script):
    """``launch(env=None, preempt=None, init={...}, n=3, exit=0)`` -> (RunResult, printed dict)."""

    def _launch(**kw: Any):
        return e2e_launch(script=script, **kw)

    return _launch


@pytest.fixture
def sync(runresume):
    """``sync(run_id, *options)``: ``wandb sync [options] <the offline run dir of run_id>``."""

    def _sync(run_id: str, *options: str):
        dirs = sorted((runresume.workdir / "wandb").glob(f"offline-run-*-{run_id}"))
        assert len(dirs) == 1, dirs
        result = runresume.run([WANDB, "sync", *options, str(dirs[0])])
        assert result.returncode == 0, result.report()
        return result

    return _sync


def operations(wandb_server) -> list[str | None]:
    return [r.operation for r in wandb_server.app.requests]


@pytest.mark.rules("R03", "R35", "R36", "R41")
def test_R03_R35_offline_run_synced_then_resumed_with_allow(launch, sync, wandb_server):
    """Offline: nothing reaches the server. ``wandb sync``: one run, not resumed, finished, with the
    offline history, config, tags, summary and console output, and no RunResumeStatus (no resume was
    asked). Then ``resume="allow"`` online resumes it from its last step (R03, R35, R36, R41)."""
    offline, out = launch(env=OFFLINE, init={"id": "off1", "config": {"lr": 0.1}, "tags": ["offline"]})
    assert offline.returncode == 0 and out == {"resumed": False, "starting_step": 0}
    assert wandb_server.model.runs == {} and wandb_server.app.requests == []

    synced = sync("off1")
    run = synced.run
    synced.expect(state="finished")
    assert run.steps == [0, 1, 2]
    assert run.config["lr"] == {"value": 0.1} and run.tags == ["offline"] and run.summary["i"] == 2
    assert any(line and line.endswith("console line") for line in run.files["output.log"])
    assert [(a.resumed, a.exit_code) for a in run.attempts] == [(False, 0)]
    assert "RunResumeStatus" not in operations(wandb_server)

    resumed, out = launch(init={"id": "off1", "resume": "allow"}, n=2)
    assert out == {"resumed": True, "starting_step": 3}
    resumed.expect(state="finished", exit_code=0)
    run = resumed.run  # results are snapshots: the resumed process's view
    assert run.steps == [0, 1, 2, 3, 4]
    assert [a.resumed for a in run.attempts] == [False, True]


@pytest.mark.rules("R66", "R70e")
def test_R66_R70e_offline_preempted_run_syncs_as_preempted_and_syncs_once(launch, sync, wandb_server):
    """A SIGUSR1 with a handler calling mark_preempting() in an offline run (exit 138): ``wandb sync``
    replays the preempting flag and the exit code, so the run is preempted and requeueable (R66,
    R70e); what was logged before the signal is there. A second sync of the directory is skipped:
    no request, no new attempt."""
    offline, _ = launch(
        env=OFFLINE, init={"id": "pre1"}, n=50, preempt=Preemption("SIGUSR1", Trigger.at_step(1), sync=False)
    )
    assert offline.exit_code == 138

    synced = sync("pre1")
    synced.expect(state="preempted", requeueable=True)
    run = synced.run
    assert [(a.preempting, a.exit_code) for a in run.attempts] == [(True, 138)]
    assert run.steps[:2] == [0, 1]

    seen = len(wandb_server.app.requests)
    sync("pre1")
    assert len(wandb_server.app.requests) == seen
    assert len(run.attempts) == 1


@pytest.mark.rules("R03", "R35", "R36")
def test_R03_R35_offline_resume_of_an_online_run_is_applied_at_sync_time(launch, sync, wandb_server):
    """An online run failed after steps 0-2; its restart ran offline with ``resume="allow"``. Offline
    the SDK cannot ask the server: the process says not resumed, starting step 0. ``wandb sync`` asks
    (RunResumeStatus), resumes the run and renumbers the offline steps 0-2 to 3-5 (R03, R35, R36)."""
    launch(init={"id": "mix1"}, exit=3)[0].expect(state="failed")  # run.finish(exit_code=3): process exit 0
    offline, out = launch(env=OFFLINE, init={"id": "mix1", "resume": "allow"})
    assert out == {"resumed": False, "starting_step": 0}

    synced = sync("mix1")
    assert "RunResumeStatus" in operations(wandb_server)
    run = synced.run
    synced.expect(state="finished")
    assert run.steps == [0, 1, 2, 3, 4, 5]
    assert [row["i"] for row in run.history] == [0, 1, 2, 0, 1, 2]
    assert [a.resumed for a in run.attempts] == [False, True]


@pytest.mark.rules("R02")
def test_R02_offline_must_on_a_missing_run_is_not_enforced_by_sync(launch, sync, wandb_server):
    """``resume="must"`` offline for an id the server does not have: offline nothing checks it; ``wandb
    sync`` asks RunResumeStatus, hears "missing", and uploads it as a new run anyway: R02 (must on a
    missing run raises) is not applied at sync time."""
    offline, out = launch(env=OFFLINE, init={"id": "must1", "resume": "must"})
    assert offline.returncode == 0 and out == {"resumed": False, "starting_step": 0}

    synced = sync("must1")
    synced.expect(state="finished")
    assert synced.run.steps == [0, 1, 2]
    assert [a.resumed for a in synced.run.attempts] == [False]
    assert operations(wandb_server)[0] == "RunResumeStatus"  # asked, answered "missing", not enforced


@pytest.mark.rules("R14")
def test_R14_sync_id_appends_an_offline_run_into_an_existing_run_without_resume(launch, sync, wandb_server):
    """``wandb sync --id <existing>`` uploads an offline run into that run without resuming it: a
    second attempt, not resumed, steps from 0 again after the old lines (R14/A02 ``append``)."""
    launch(init={"id": "base1"}, exit=3)
    launch(env=OFFLINE, init={"id": "other1"})

    sync("other1", "--id", "base1")
    run = wandb_server.model.run("off/base1")
    assert run.steps == [0, 1, 2, 0, 1, 2]
    assert [(a.resumed, a.exit_code) for a in run.attempts] == [(False, 3), (False, 0)]
    assert wandb_server.model.get(None, "off", "other1") is None
