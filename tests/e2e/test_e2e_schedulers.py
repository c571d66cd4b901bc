"""Scheduler profiles end to end with the real wandb SDK: the mistakes the catalogue does not hold
(a SLURM preemption's SIGTERM reaching wandb-core, KillWait and terminationGracePeriodSeconds
shorter than the checkpoint) fail naming their cause; ``resume="auto"`` on a persistent volume
passes. The correct recipes are run by ``tests/docs/test_docs_schedulers.py``, the catalogued
mistakes by ``tests/catalogue/test_scheduler_catalogue.py``. About 20 s of wall time at ``-n 2``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_runresume import ExpectationFailed, Kubernetes, Slurm, Trigger

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "examples" / "train.py"
SLOW = ROOT / "examples" / "buggy" / "slow_handler.py"
AUTO = ROOT / "examples" / "buggy" / "auto_resume_train.py"

#: The SLURM recipe of docs/schedulers/slurm.md, with the training command in $TRAIN.
TRAP_JOB = """#!/bin/bash
#SBATCH --requeue
#SBATCH --signal=B:USR1@120
trap 'kill -USR1 "$child"; wait "$child"; scontrol requeue "$SLURM_JOB_ID"' USR1
srun python "$TRAIN" --run-id "train-$SLURM_JOB_ID" "$@" &
child=$!
wait "$child"
"""


@pytest.fixture
def job(tmp_path: Path) -> Path:
    path = tmp_path / "job.sbatch"
    path.write_text(TRAP_JOB)
    return path


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


def test_slurm_preemption_sigterm_reaches_wandb_core_and_the_run_is_not_preempted(runresume, job):
    slurm = Slurm(kill_wait=3, event="preempt")  # PreemptMode=REQUEUE, GraceTime=0: the job ends at once
    result = runresume.run(f"{job} --steps 8", preempt=Trigger.at_step(3), scheduler=slurm, env={"TRAIN": str(TRAIN)})
    assert "wandb-core-signalled" in codes(result), result.report()
    assert result.job is not None and result.job.requeued and result.job.requeue_reason.startswith("preempted")
    with pytest.raises(ExpectationFailed, match=r"\[bug: wandb-core-signalled\] SIGTERM reached wandb-core"):
        result.expect(state="preempted")


def test_slurm_kill_wait_shorter_than_the_checkpoint(runresume, tmp_path):
    job = tmp_path / "exec.sbatch"  # B: reaches Python itself: the batch shell execs it
    job.write_text('#!/bin/bash\n#SBATCH --signal=B:USR1@120\nexec srun python "$TRAIN" --run-id abc "$@"\n')
    slurm = Slurm(kill_wait=2, signal_lead=1)  # the job ends 1 s after the warning; SIGKILL 2 s later
    result = runresume.run(
        f"{job} --steps 8",
        preempt=Trigger.at_step(3),
        scheduler=slurm,
        env={"TRAIN": str(SLOW), "SLOW_HANDLER_SECONDS": "30"},
    )
    with pytest.raises(ExpectationFailed, match=r"\[bug: grace-period-ran-out\] .*SIGKILL after KillWait=2s"):
        result.expect(state="preempted")


def test_kubernetes_grace_period_shorter_than_the_checkpoint(runresume):
    pod = Kubernetes(grace_period=2, volume="persistentVolumeClaim")
    loop_error = None
    try:
        runresume.requeue(
            f"python {SLOW} --run-id abc --steps 8",
            [Trigger.at_step(3)],
            scheduler=pod,
            env={"SLOW_HANDLER_SECONDS": "30"},
        ).check()
    except ExpectationFailed as exc:
        loop_error = str(exc)
    assert loop_error is not None
    assert "[bug: grace-period-ran-out]" in loop_error and "terminationGracePeriodSeconds=2" in loop_error


def test_kubernetes_auto_resume_on_a_persistent_volume_passes(runresume):
    pod = Kubernetes(grace_period=5, volume="persistentVolumeClaim")
    loop = runresume.requeue(f"{sys.executable} {AUTO} --steps 8", [Trigger.at_step(3)], scheduler=pod)
    loop.check(total_steps=8)
    assert loop.results[1].job is not None and loop.results[1].job.workdir == loop.results[0].job.workdir
