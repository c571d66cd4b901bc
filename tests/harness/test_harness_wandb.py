"""Trigger points inside the real wandb SDK, and wandb-core reaped after every run."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest

from pytest_runresume import Preemption, Trigger

SCRIPT = """
    import os, signal, sys, wandb
    print("pid", os.getpid(), flush=True)

    def handler(signum, frame):
        if wandb.run is not None:
            wandb.run.mark_preempting()
        sys.exit(128 + signum)

    signal.signal(signal.SIGUSR1, handler)
    run = wandb.init(project="h", id=sys.argv[1], resume="allow")
    for i in range(int(sys.argv[2])):
        run.log({"i": i})
    if len(sys.argv) > 3:
        run.mark_preempting()
        sys.exit(int(sys.argv[3]))
    run.finish()
"""


@pytest.fixture
def script(tmp_path: Path) -> str:
    path = tmp_path / "s.py"
    path.write_text(textwrap.dedent(SCRIPT))
    return str(path)


def wandb_core_processes_for(parent_pid: int) -> list[int]:
    """wandb-core processes started for ``parent_pid`` (it gets ``--pid <parent>``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"wandb-core") and b"--pid" in argv:
            if argv[argv.index(b"--pid") + 1] == str(parent_pid).encode():
                found.append(int(entry.name))
    return found


@pytest.mark.rules("R65", "R66")
def test_init_trigger_signals_right_after_wandb_init(runresume, script):
    """at='init': the signal lands after wandb.init returned and before the first log: the run
    exists with no history and ends preempted (R65, R66)."""
    result = runresume.run(["python", script, "init1", "5"], preempt=Preemption("SIGUSR1", Trigger("init")))
    result.expect(state="preempted", exit_code=138)
    assert result.run.steps == []
    assert result.signals[0].point["run_id"] == "init1"


@pytest.mark.rules("R70c")
def test_preempting_trigger_kills_after_mark_preempting(runresume, script):
    """at='preempting' with SIGKILL: the flag reached the server, no exit was reported; the run is
    preempting, then preempted once the clock passes the crash timeout (R70c 'always' column)."""
    result = runresume.run(
        ["python", script, "mp1", "2", "3"], preempt=Preemption("SIGKILL", Trigger("preempting"), sync=False)
    )
    assert result.killed_by_signal == signal.SIGKILL
    runresume.model.wait_for(lambda: result.run.attempt.preempting, timeout=20)
    assert result.state == "preempting"
    runresume.advance_clock(runresume.model.crash_timeout)
    assert result.state == "preempted"


@pytest.mark.rules("R63")
def test_step_trigger_is_synchronised_with_the_backend(runresume, script):
    """A step trigger waits until the backend holds that step, so what the server has when the
    signal lands does not depend on timing: exactly steps 0..3 after SIGKILL at step 3 (R63)."""
    result = runresume.run(["python", script, "sync1", "50"], preempt=Preemption("SIGKILL", Trigger.at_step(3)))
    assert result.signals[0].backend_last_step == 3
    assert result.run.steps == [0, 1, 2, 3]


def test_wandb_core_is_reaped_after_a_kill(runresume, script):
    """After SIGKILL of the Python process, its wandb-core (in a session of its own) is not left
    running: the supervisor reaps or kills it before run() returns."""
    result = runresume.run(["python", script, "reap1", "50"], preempt=Preemption("SIGKILL", Trigger.at_step(1)))
    pid = int(result.stdout.split()[1])
    assert wandb_core_processes_for(pid) == []


@pytest.mark.rules("R65")
def test_runtime_trigger_fires_at_the_first_log_after_t_seconds(runresume, tmp_path):
    """at='runtime:T': the signal lands at the first log at least T seconds of the run's own time
    after wandb.init (the run logs every 0.1 s here), then the handler preempts the run (R65)."""
    body = """
        import signal, sys, time, wandb
        def handler(signum, frame):
            wandb.run.mark_preempting()
            sys.exit(128 + signum)
        signal.signal(signal.SIGUSR1, handler)
        run = wandb.init(project="h", id="rt1")
        for i in range(200):
            run.log({"i": i})
            time.sleep(0.1)  # the code under test trains slowly; the test waits on the trigger
        run.finish()
    """
    path = tmp_path / "rt.py"
    path.write_text(textwrap.dedent(body))
    result = runresume.run(["python", str(path)], preempt=Preemption("SIGUSR1", Trigger("runtime", seconds=1.0)))
    result.expect(state="preempted", exit_code=138)
    point = result.signals[0].point
    assert point["point"] == "runtime" and point["seconds"] >= 1.0
    assert 5 <= point["step"] < 200


EXPLICIT = """
    import signal, sys, wandb
    def handler(signum, frame):
        wandb.run.mark_preempting()
        sys.exit(128 + signum)
    signal.signal(signal.SIGUSR1, handler)
    run = wandb.init(project="h", id=sys.argv[1])
    for step in range(20):
        run.log({"x": step}, step=step)
    run.finish()
"""


@pytest.mark.rules("R65")
def test_step_trigger_with_explicit_steps_lands_right_after_that_log(runresume, tmp_path):
    """run.log(..., step=N): the signal lands right after the call for step N (not one step later);
    the pending row N is committed at the exit, so the run holds steps 0..N (R34, R65)."""
    path = tmp_path / "explicit.py"
    path.write_text(textwrap.dedent(EXPLICIT))
    result = runresume.run(["python", str(path), "ex1"], preempt=Preemption("SIGUSR1", Trigger.at_step(4)))
    result.expect(state="preempted", exit_code=138)
    assert result.signals[0].point == {**result.signals[0].point, "step": 4, "pending": True}
    assert result.run.steps == [0, 1, 2, 3, 4]
