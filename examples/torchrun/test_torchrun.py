"""The real ``torchrun --max-restarts``: a preempted worker restarted inside one command, one W&B run.

The tree under test is ``torchrun`` (its elastic agent) -> the worker (``train_ddp.py``, which
logs to W&B) -> ``wandb-core``. The harness sends SIGUSR1 to the worker at an exact W&B step
(``target="point"``: torchrun's agent would die of SIGUSR1, which it does not handle). The worker
checkpoints and exits 138; the agent restarts it (``TORCHELASTIC_RESTART_COUNT=1``) in the same
command, so the trigger must fire on the first start only (``start=1``, the default).

Needs ``pip install -e ".[integrations]"``; without it the module is skipped, except under
``RUNRESUME_INTEGRATIONS=required`` (the CI step that runs these tests), where it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

if os.environ.get("RUNRESUME_INTEGRATIONS") == "required":
    import torch  # noqa: F401  (the CI step: a missing package is an error, not a skip)
else:
    pytest.importorskip("torch", reason='needs pip install -e ".[integrations]"')

from pytest_runresume import ExpectationFailed, Preemption, Trigger

TRAIN = Path(__file__).with_name("train_ddp.py")
STEPS = 12


def torchrun(*args: str, max_restarts: int = 1) -> list[str]:
    """``torchrun --standalone --nproc-per-node 1 --max-restarts N train_ddp.py --steps 12 ARGS``."""
    exe = shutil.which("torchrun")
    assert exe is not None, "torchrun is not on PATH (it comes with torch)"
    return [
        exe,
        "--standalone",
        "--nproc-per-node",
        "1",
        "--max-restarts",
        str(max_restarts),
        str(TRAIN),
        "--steps",
        str(STEPS),
        *args,
    ]


def usr1_at(step: int) -> Preemption:
    """SIGUSR1 to the worker, right after it logged W&B step ``step``."""
    return Preemption("SIGUSR1", Trigger.at_step(step), target="point")


def test_worker_restarted_by_torchrun_resumes_the_same_run(runresume):
    """SIGUSR1 after W&B step 4 to the worker: it checkpoints, marks the run preempting and exits
    138; torchrun restarts it (restart 1), the restart resumes the run at step 5, and torchrun
    exits 0. One signal (start 1), one run, W&B steps and ``train_step`` 0..11 once each, two
    attempts (138 preempting, then 0), finished."""
    result = runresume.run(torchrun("--run-id", "ddp"), preempt=usr1_at(4))
    result.expect(state="finished", exit_code=0)
    [sent] = result.signals
    assert (sent.signal, sent.start, sent.point["step"]) == (signal.SIGUSR1, 1, 4)
    assert "train_ddp.py" in sent.commands[sent.pids[0]]
    assert "run ddp restart 1 resumed=True from step 5" in result.stdout
    run = result.run
    assert run.steps == list(range(STEPS))
    assert [row["train_step"] for row in run.history] == list(range(STEPS))
    assert [(a.exit_code, a.preempting) for a in run.attempts] == [(128 + signal.SIGUSR1, True), (0, False)]
    assert result.killed == []  # the agent and both workers ended on their own: no orphan


@pytest.mark.rules("R66", "R71")
def test_broken_without_restarts_torchrun_fails_and_the_run_stays_preempted(runresume):
    """With ``--max-restarts 0`` (torchrun's default) the preempted worker is not restarted: torchrun
    exits 1 and the run is left preempted, requeueable by a scheduler outside (R66, R71) — the
    handler itself was right, so the diagnosis finds no bug; only the restart inside is missing."""
    result = runresume.run(torchrun("--run-id", "norestart", max_restarts=0), preempt=usr1_at(4))
    result.expect(state="preempted", exit_code=1, requeueable=True)
    assert len([e for e in result.events if e.event == "init"]) == 1
    with pytest.raises(ExpectationFailed) as failed:
        result.expect(state="finished", exit_code=0)
    assert str(failed.value).startswith("exit code 1, expected 0; run state 'preempted', expected 'finished'")


@pytest.mark.rules("R21", "R28")
def test_broken_run_id_drawn_at_start_makes_every_restart_a_new_run(runresume):
    """The classic mistake: no fixed run id (``--run-id`` left out, drawn at each start). torchrun
    restarts the worker as it should, but the restart writes a second run; the diagnosis names the
    run id made anew at each start (R21, R28)."""
    result = runresume.run(torchrun(), preempt=usr1_at(4))
    assert len(result.runs) == 2
    with pytest.raises(ExpectationFailed) as failed:
        result.expect(state="finished", exit_code=0)
    message = str(failed.value)
    assert "likely cause: [bug: run-id-changed] the command restarted its training process after the signal" in message
    assert [f.code for f in result.findings] == ["run-id-changed"]
