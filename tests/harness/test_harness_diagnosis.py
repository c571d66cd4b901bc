"""The diagnosis on scripts a newcomer wrote: a correct script that logs with explicit steps and
checkpoints every 2 steps passes the README's requeue pattern and `runresume check` (a SIGKILL loses
the rows still in its client: a note, not a bug), and an off-by-one on resume is named as such.
Real wandb SDK, real subprocesses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_runresume import ExpectationFailed, Preemption, Trigger

SCRIPT = """
    import json, os, signal, sys, wandb
    ckpt = "ckpt.json"
    state = json.load(open(ckpt)) if os.path.exists(ckpt) else {{"step": -1}}
    run = wandb.init(project="nd", id=os.environ.get("WANDB_RUN_ID", "nd-run"), resume="allow")
    def handler(signum, frame):
        json.dump(state, open(ckpt, "w"))
        run.mark_preempting()
        sys.exit(128 + signum)
    signal.signal(signal.SIGUSR1, handler)
    start = {start}
    for step in range(start, 8):
        state["step"] = step
        run.log({{"loss": 1.0 / (step + 1), "global_step": step}}{explicit})
        if step % 2 == 1:
            json.dump(state, open(ckpt, "w"))
    run.finish()
    os.remove(ckpt)
"""


def write(tmp_path: Path, explicit: bool, off_by_one: bool = False, restart_at_zero: bool = False) -> list[str]:
    path = tmp_path / "nd.py"
    start = 'max(state["step"], 0)' if off_by_one else "0" if restart_at_zero else 'state["step"] + 1'
    text = SCRIPT.format(start=start, explicit=", step=step" if explicit else "")
    path.write_text(textwrap.dedent(text))
    return ["python", str(path)]


README_LOOP = [Preemption("SIGUSR1", Trigger.at_step(3), escalate_after=8), Preemption("SIGKILL", Trigger.at_step(6))]


@pytest.mark.parametrize("explicit", [True, False], ids=["explicit-steps", "implicit-steps"])
def test_a_correct_script_passes_the_requeue_pattern(runresume, tmp_path, explicit):
    loop = runresume.requeue(write(tmp_path, explicit), README_LOOP)
    loop.check()
    assert loop.states == ["preempted", "running", "finished"]


def test_a_correct_explicit_step_script_passes_restarted_after_kill(tmp_path):
    script = write(tmp_path, explicit=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_runresume.cli", "check", "--only", "restarted_after_kill", "--", *script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]


@pytest.mark.parametrize("explicit", [True, False], ids=["explicit-steps", "implicit-steps"])
def test_an_off_by_one_on_resume_is_named(runresume, tmp_path, explicit):
    loop = runresume.requeue(write(tmp_path, explicit, off_by_one=True), README_LOOP[:1])
    with pytest.raises(ExpectationFailed, match=r"off-by-one on resume"):
        loop.check()


@pytest.mark.parametrize("loop", [README_LOOP[:1], README_LOOP], ids=["preempted", "preempted-then-killed"])
def test_a_step_counter_not_restored_on_resume_is_named(runresume, tmp_path, loop):
    """The checkpoint is saved in the handler but the restart does not read the step back: it logs
    from step 0 again (a newcomer's own bug). Not a checkpoint that lags, and after a SIGKILL that
    follows a handled preemption not "expected": the handler's checkpoint was there to resume from."""
    loop_ = runresume.requeue(write(tmp_path, explicit=True, restart_at_zero=True), loop)
    with pytest.raises(ExpectationFailed, match=r"\[bug: rows-dropped\] .*from step 0 again") as failed:
        loop_.check()
    assert "step counter" in str(failed.value) and "expected after a SIGKILL" not in str(failed.value)


@pytest.mark.parametrize("explicit", [True, False], ids=["explicit-steps", "implicit-steps"])
def test_a_restart_without_resume_is_named_with_what_its_history_did(runresume, tmp_path, explicit):
    """No ``resume=`` on ``wandb.init`` (R14): the restart is merged into the run, not resumed. With
    implicit steps its history restarts at step 0; with explicit steps restored from the checkpoint
    it goes on at step 4, and the message must not claim step 0 (a newcomer's own script)."""
    command = write(tmp_path, explicit)
    script = Path(command[1])
    script.write_text(script.read_text().replace(', resume="allow")', ")"))
    loop = runresume.requeue(command, README_LOOP[:1])
    with pytest.raises(ExpectationFailed, match=r"\[bug: not-resumed\] process 2 did not resume") as failed:
        loop.check()
    message = str(failed.value)
    if explicit:
        assert "its history went on at step 4 only because the script passes step= itself" in message
        assert "restarted at step 0" not in message
    else:
        assert "so its history restarted at step 0" in message
