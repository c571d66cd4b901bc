"""The example training script (``train.py``), run for real against the fake W&B backend.

Each test runs the unmodified ``wandb`` SDK in a real subprocess. These are the README's main job.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

TRAIN = Path(__file__).with_name("train.py")


def train(run_id: str, *args: str) -> list[str]:
    return ["python", str(TRAIN), "--run-id", run_id, "--steps", "12", *args]


@pytest.mark.rules("R55", "R66", "R70a")
def test_plain_run_finishes(runresume):
    """Exit 0 -> finished, never requeued (R55, R66, R70a)."""
    result = runresume.run(train("plain"))
    result.expect(state="finished", exit_code=0, requeueable=False)
    assert result.run.steps == list(range(12))
    assert not (runresume.workdir / "checkpoint.json").exists()


@pytest.mark.rules("R55", "R57", "R70b")
def test_exception_fails(runresume):
    """An uncaught exception -> exit code 1 -> failed, not preempted (R55, R57, R70b 'handler')."""
    result = runresume.run(train("boom", "--fail-at", "3"))
    result.expect(state="failed", exit_code=1, requeueable=False)
    assert result.run.attempt.exit_code == 1
    assert result.run.steps == [0, 1, 2]


@pytest.mark.rules("R35", "R36", "R65", "R66", "R67", "R68", "R70e", "R71")
@pytest.mark.preempt(signal="SIGUSR1", at_step=4)
def test_sigusr1_preempts_then_resumes_from_last_step(runresume):
    """SIGUSR1 after step 4: the handler checkpoints, calls mark_preempting() and exits 138 ->
    preempted and requeueable (R65-R68, R70e, R71). The restart with the same id resumes at step 5
    (R35) and the history is contiguous, each step exactly once (R36)."""
    first = runresume.run(train("pre"))  # the marker sends SIGUSR1 after step 4 and checks the end
    assert first.exit_code == 128 + signal.SIGUSR1 == 138
    assert first.signals[0].point["step"] == 4
    assert json.loads((runresume.workdir / "checkpoint.json").read_text())["step"] == 4

    second = runresume.run(train("pre"))
    second.expect(state="finished", exit_code=0)
    run = second.run
    assert [a.resumed for a in run.attempts] == [False, True]
    assert "starting_step=5" in second.stdout
    assert run.steps == list(range(12))
    assert [row["_step"] for row in run.history] == list(range(12))


@pytest.mark.rules("R70e")
@pytest.mark.preempt(signal="SIGTERM", at_step=2)
def test_sigterm_is_handled_too(runresume):
    """The example handles SIGTERM like SIGUSR1: exit 143, preempted (R70e)."""
    result = runresume.run(train("term"))
    assert result.exit_code == 143


@pytest.mark.rules("R60", "R61", "R70e")
def test_unhandled_signal_crashes_after_the_timeout(runresume):
    """SIGUSR1 with no handler: the process dies, nothing reports an exit; the run stays running
    until the backend's clock passes the crash timeout, then it is crashed (R60, R61, R70e 'none')."""
    from pytest_runresume import Preemption, Trigger

    result = runresume.run(train("nohandler", "--signals", ""), preempt=Preemption("SIGUSR1", Trigger.at_step(3)))
    assert result.killed_by_signal == signal.SIGUSR1
    assert result.state == "running"
    runresume.advance_clock(runresume.model.crash_timeout - 1)
    assert result.state == "running"
    runresume.advance_clock(1)
    result.expect(state="crashed", requeueable=False, allow=["no-handler"])  # the missing handler is the point
    assert [f.code for f in result.findings] == ["no-handler"]


@pytest.mark.rules("R42", "R51")
def test_public_api_reports_the_same_state(runresume, wandb_server):
    """``wandb.Api().run(path).state`` read through the fake gives the model's state (R51), and
    ``lastHistoryStep`` the last step (R42)."""
    from pytest_runresume import Preemption, Trigger

    runresume.run(train("api"), preempt=Preemption("SIGUSR1", Trigger.at_step(2)))
    script = (
        "import json, wandb; r = wandb.Api().run('testent/runresume-example/api');"
        "print(json.dumps({'state': r.state, 'last': r.lastHistoryStep}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=runresume.env(),
        cwd=runresume.workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer == {"state": "preempted", "last": 2}
    assert wandb_server.model.state(wandb_server.model.run("runresume-example/api")) == "preempted"


@pytest.mark.rules("R35", "R36", "R66", "R71")
def test_requeue_loop_preempted_twice_then_finishes(runresume):
    """Like a scheduler requeue: preempted after step 3, again after step 8, then runs to the end.
    One run id, each restart resumed, W&B steps 0..11 once each, the script's own step counter never
    repeats, final state finished (R35, R36, R66, R71)."""
    from pytest_runresume import Preemption, Trigger

    loop = runresume.requeue(
        train("loop"), [Preemption("SIGUSR1", Trigger.at_step(3)), Preemption("SIGTERM", Trigger.at_step(8))]
    )
    assert loop.states == ["preempted", "preempted", "finished"]
    loop.check(total_steps=12, step_key="train_step")


@pytest.mark.rules("R60", "R61", "R63", "R70c", "R73")
@pytest.mark.crash(at_step=3)
def test_sigkill_crashes_once_the_clock_passes_the_timeout(runresume):
    """SIGKILL cannot be handled (R73): no exit is reported; the marker checks the run is still
    alive, moves the backend clock past the 5-minute timeout, and expects crashed (R60, R61, R70c)."""
    result = runresume.run(train("killed"))
    assert result.run.steps == [0, 1, 2, 3]  # metrics already sent are kept (R63)
