"""Results are snapshots; triggers fire once per run(); the harness's shortcuts are named failures
(the verdicts issue: items 4-6). Real wandb SDK, real subprocesses."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from pytest_runresume import HarnessError, Preemption, Trigger
from pytest_runresume.harness import diagnose

ROOT = Path(__file__).resolve().parents[2]
TRAIN = str(ROOT / "examples" / "train.py")


def train(run_id: str, steps: int = 6) -> list[str]:
    return ["python", TRAIN, "--run-id", run_id, "--steps", str(steps)]


def test_a_result_keeps_the_run_as_its_process_left_it(harness):
    """A restart does not change the first result: its state, steps and timeline are the first
    process's; the live view is explicit (R35, R66)."""
    first = harness.run(train("snap"), preempt=Preemption("SIGUSR1", Trigger.at_step(2)))
    second = harness.run(train("snap"))
    assert first.state == "preempted" and first.run.steps == [0, 1, 2]
    assert [e.kind for e in first.timeline()].count("exit") == 1
    assert "exit code 138" in first.report() and "exit code 0 reported" not in first.report()
    assert first.state_now() == "finished" == second.state
    assert second.run.steps == list(range(6))
    assert second.timeline()[0].kind != "init" or "resumed" in second.timeline()[0].detail
    assert first.findings == [] and second.findings == []


def twice(run_id: str) -> list[str]:
    """A command that restarts its training process itself (a launcher's retry loop)."""
    one = " ".join(train(run_id)).replace("python", "exec_python", 1)
    return ["bash", "-c", f"{one}; {one}; exit 0".replace("exec_python", "python")]


@pytest.mark.parametrize(
    "start, signalled",
    [(1, [1]), (2, [2]), ("every", [1, 2])],
    ids=["first-start-by-default", "the-second-start", "every-start"],
)
def test_a_trigger_fires_once_per_run_across_restarts_inside_the_command(harness, start, signalled):
    result = harness.run(
        twice(f"twice-{start}"), preempt=Preemption("SIGUSR1", Trigger.at_step(2), target="point", start=start)
    )
    assert [s.start for s in result.signals] == signalled
    attempts = result.run.attempts
    assert len(attempts) == 2 and attempts[1].resumed
    assert [a.exit_code for a in attempts] == [
        128 + signal.SIGUSR1 if n in signalled else 0 for n in (1, 2)
    ]


def test_the_diagnosis_judges_the_signalled_start_not_the_last_one(harness):
    """A command that restarts its training process (submitit, ``torchrun --max-restarts``, a retry
    loop): the first start handled the signal (exit 138, preempting), the second finished (exit 0).
    The command's exit 0 and the run's last attempt are the second start's; the diagnosis must read
    the signalled start's own attempt, so a correct restart is no handler-exits-zero."""
    result = harness.run(twice("inner"), preempt=Preemption("SIGUSR1", Trigger.at_step(2), target="point"))
    assert [a.exit_code for a in result.run.attempts] == [128 + signal.SIGUSR1, 0]
    assert result.findings == []
    result.expect(state="finished", exit_code=0)


def test_a_restart_inside_the_command_that_starts_a_new_run_is_named(harness):
    """The broken twin: each start draws its own run id (no --run-id, a checkpoint per start), so the
    restart inside the command writes a second run. Named: run-id-changed, the restart inside."""
    one = f"python {TRAIN} --steps 6 --ckpt"
    result = harness.run(
        ["bash", "-c", f"{one} a.json; {one} b.json; exit 0"],
        preempt=Preemption("SIGUSR1", Trigger.at_step(2), target="point"),
    )
    assert len(result.runs) == 2
    [found] = result.findings
    assert found.code == "run-id-changed"
    assert found.message.startswith("the command restarted its training process after the signal (pid ")
    assert "the run id is made anew at each start" in found.message


def test_a_bad_start_is_refused():
    with pytest.raises(ValueError, match="start must be"):
        Preemption("SIGUSR1", Trigger.at_step(1), start=0)


def test_a_sync_that_times_out_is_a_named_failure_not_a_silent_signal(harness):
    """Offline, the backend never receives step 1: the harness still signals (no hang) but fails the
    run, naming the sync timeout, instead of pretending the server held step 1."""
    with pytest.raises(HarnessError, match=r"sync-timeout: the backend did not receive step 1 of run offl"):
        harness.run(
            train("offl"),
            env={"WANDB_MODE": "offline"},
            preempt=Preemption("SIGUSR1", Trigger.at_step(1), sync_timeout=0.5),
        )


def test_an_exit_status_the_supervisor_never_reported_is_a_named_failure(harness):
    """The supervisor killed from inside the tree: no status arrives; no return code is invented."""
    with pytest.raises(HarnessError, match="the supervisor reported no exit status"):
        harness.run(["bash", "-c", "kill -9 $PPID"])


def test_a_trigger_not_reached_names_the_exception(harness, tmp_path):
    script = tmp_path / "boom.py"
    script.write_text("import wandb\nrun = wandb.init(project='p', id='boom')\nraise KeyError('no such key')\n")
    with pytest.raises(Exception, match=r"(?s)before reaching the trigger point.*\[note: exception\].*KeyError"):
        harness.run(["python", str(script)], preempt=Preemption("SIGUSR1", Trigger.at_step(1)))
    assert [f.code for f in diagnose(harness.results[-1])] == ["exception"]
