"""submitit for real: its preemption signal, its ``checkpoint()`` protocol, its requeue, one W&B run.

``train_submitit.py`` submits a job to the real ``submitit.LocalExecutor``; the tree under test is
the submitting script -> submitit's controller -> the task (which logs to W&B) -> ``wandb-core``.
The harness sends submitit's own preemption signal, SIGUSR2, to the task at an exact W&B step
(``target="point"``: the process that logged it). submitit's handler calls ``checkpoint()``,
exits 144, and its controller starts the task again *inside the same command*: the trigger must
fire on the first start only (``start=1``, the default), and the run must stay one W&B run.

Needs ``pip install -e ".[integrations]"``; without it the module is skipped, except under
``RUNRESUME_INTEGRATIONS=required`` (the CI step that runs these tests), where it fails.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

if os.environ.get("RUNRESUME_INTEGRATIONS") == "required":
    import submitit  # noqa: F401  (the CI step: a missing package is an error, not a skip)
else:
    pytest.importorskip("submitit", reason='needs pip install -e ".[integrations]"')

from pytest_runresume import ExpectationFailed, Preemption, Trigger

TRAIN = Path(__file__).with_name("train_submitit.py")
STEPS = 12
LOCAL_REQUEUE_EXIT = 144  # submitit.local.local.LOCAL_REQUEUE_RETURN_CODE


def submit(run_id: str, *args: str) -> list[str]:
    """The command: submit the job and wait for its result."""
    return ["python", str(TRAIN), "--run-id", run_id, "--steps", str(STEPS), *args]


def usr2_at(step: int) -> Preemption:
    """submitit's preemption signal to the task, right after it logged W&B step ``step``."""
    return Preemption("SIGUSR2", Trigger.at_step(step), target="point")


def task_starts(result) -> list[dict]:
    """What each start of the task reported at ``wandb.init``, in order."""
    return [e.detail | {"pid": e.pid} for e in result.events if e.event == "init"]


def test_sigusr2_checkpoints_and_the_restarted_task_resumes_the_run(runresume):
    """SIGUSR2 after W&B step 4 to the task: submitit calls ``checkpoint()`` (the run is marked
    preempting), exits 144, and the controller restarts the task from the checkpoint pickle, all
    inside one command that exits 0. The signal is sent once, to the first start; the second start
    resumes the same run at step 5; one run, W&B steps and the job's own step counter each 0..11
    once, two attempts (the first exit 144 and preempting), finished."""
    result = runresume.run(submit("sub"), preempt=usr2_at(4))
    result.expect(state="finished", exit_code=0)
    [sent] = result.signals
    assert (sent.signal, sent.start, sent.point["step"]) == (signal.SIGUSR2, 1, 4)
    assert "submitit.core._submit" in sent.commands[sent.pids[0]]
    first, second = task_starts(result)
    assert sent.pids == [first["pid"]] and second["pid"] != first["pid"]
    assert (first["resumed"], second["resumed"], second["starting_step"]) == (False, True, 5)
    run = result.run
    assert run.steps == list(range(STEPS))
    assert [row["train_step"] for row in run.history] == list(range(STEPS))
    assert [(a.exit_code, a.preempting) for a in run.attempts] == [(LOCAL_REQUEUE_EXIT, True), (0, False)]
    assert result.killed == []  # submitit's controller and both tasks ended on their own: no orphan


def test_every_start_preempted_runs_submitit_out_of_restarts(runresume):
    """Why the trigger must fire once: with ``start="every"`` each restarted task is preempted
    again at its first step past 4, and submitit's controller gives up after its 6 starts: the
    command fails, the run never finishes. (The default ``start=1`` test above passes.)"""
    result = runresume.run(
        submit("every"), preempt=Preemption("SIGUSR2", Trigger.at_step(4), target="point", start="every")
    )
    assert [s.start for s in result.signals] == [1, 2, 3, 4, 5, 6]
    assert result.exit_code == 1  # job.result() raises: the job ended without a result
    assert result.state == "preempted"
    assert [(a.exit_code, a.preempting) for a in result.run.attempts] == [(LOCAL_REQUEUE_EXIT, True)] * 6


@pytest.mark.rules("R21", "R28")
def test_broken_checkpoint_without_the_run_id_starts_a_second_run(runresume):
    """The classic mistake: the run id is drawn when the job starts (``--mistake new-run-id``), so
    the pickle submitit requeues carries none; the restarted task writes a second run at step 0.
    The diagnosis names the run id made anew at each start (R21, R28)."""
    result = runresume.run(submit("lost", "--mistake", "new-run-id"), preempt=usr2_at(4))
    assert len(result.runs) == 2
    with pytest.raises(ExpectationFailed) as failed:
        result.expect(state="finished", exit_code=0)
    message = str(failed.value)
    assert message.startswith("expected the process to write exactly one run, it wrote 2")
    assert "likely cause: [bug: run-id-changed] the command restarted its training process after the signal" in message
    assert "the run id is made anew at each start" in message
    assert [f.code for f in result.findings] == ["run-id-changed"]


@pytest.mark.rules("R35", "R36")
def test_broken_job_without_checkpoint_trains_again_from_step_0(runresume):
    """The classic mistake: no ``checkpoint()`` method. submitit still requeues the preempted job,
    but from the original submission: the restarted task resumes the W&B run and trains steps 0..11
    again. The diagnosis names the steps trained twice (R35, R36)."""
    result = runresume.run(submit("nockpt", "--mistake", "no-checkpoint"), preempt=usr2_at(4))
    with pytest.raises(ExpectationFailed) as failed:
        result.expect(state="finished", exit_code=0)
    message = str(failed.value)
    assert "likely cause: [bug: steps-repeated] 'train_step' values [0, 1, 2, 3, 4] were logged again" in message
    # and nothing marked the run preempting: W&B showed it 'failed' (exit 144) until the restart
    assert "likely cause: [bug: no-mark-preempting] the SIGUSR2 handler exited 144" in message
    assert {f.code for f in result.findings} == {"steps-repeated", "no-mark-preempting"}


def test_broken_checkpoint_returning_none_is_never_requeued(runresume):
    """The classic mistake: ``checkpoint()`` returns ``None``. submitit then does not requeue: it
    raises ``UncompletedJobError`` in the task, which exits 1, and the job fails; the run is left
    ``preempted`` with nothing to resume it. The diagnosis names the refused requeue."""
    result = runresume.run(submit("none", "--mistake", "checkpoint-none"), preempt=usr2_at(4))
    with pytest.raises(ExpectationFailed) as failed:
        result.expect(state="finished", exit_code=0)
    message = str(failed.value)
    assert message.startswith("exit code 1, expected 0; run state 'preempted', expected 'finished'")
    assert (
        'likely cause: [bug: not-requeued] submitit did not requeue the job: "Job not requeued because: checkpoint '
        'function returned None" — checkpoint() must return a DelayedSubmission' in message
    )
    assert [f.code for f in result.findings] == ["not-requeued"]
    assert len(task_starts(result)) == 1
