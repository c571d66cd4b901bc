"""Lightning for real on a (fake) SLURM job: auto-requeue, hpc checkpoint, one W&B run throughout.

The real ``lightning`` package (CPU ``torch``) and the real ``wandb`` SDK run ``job.sbatch`` with
bash, as ``sbatch`` would: the fake ``srun`` (``pytest_runresume/harness/_slurm_bin``) makes
Python the job step, the fake ``scontrol`` records Lightning's ``scontrol requeue``. What SLURM
itself does is played by the test, as SLURM documents it (``docs/schedulers/README.md``): the
``--signal=USR1`` warning goes to the job step (the process that logs to W&B: ``target="point"``),
and a requeue starts the same script again with the same ``SLURM_JOB_ID`` and
``SLURM_RESTART_COUNT`` + 1 — only when the job asked for it with ``scontrol requeue``.

Needs ``pip install -e ".[integrations]"``; without it the module is skipped, except under
``RUNRESUME_INTEGRATIONS=required`` (the CI step that runs these tests), where it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

if os.environ.get("RUNRESUME_INTEGRATIONS") == "required":
    import lightning  # noqa: F401  (the CI step: a missing package is an error, not a skip)
else:
    pytest.importorskip("lightning", reason='needs pip install -e ".[integrations]"')

from pytest_runresume import ExpectationFailed, Preemption, Trigger
from pytest_runresume.harness.slurm import install_fake_commands, read_events, requeue_requests, slurm_env

HERE = Path(__file__).parent
JOB_ID = 4242
RUN_PATH = f"runresume-lightning/slurm-{JOB_ID}"
MAX_STEPS = 12


class SlurmJob:
    """One SLURM batch job played by the test: its files, its environment, its requeues.

    ``job.sbatch`` and ``train_lightning.py`` are copied into ``runresume.workdir``, the job's
    ``SLURM_SUBMIT_DIR``; the fake SLURM commands go first on ``PATH``, then this interpreter's
    directory (the script's ``python``).
    """

    def __init__(self, runresume, tmp_path: Path, job_id: int = JOB_ID) -> None:
        self.runresume = runresume
        self.job_id = job_id
        self.restarts = 0
        self.events_file = tmp_path / "slurm-events.jsonl"
        self.bin = install_fake_commands(tmp_path / "slurm-bin")
        for name in ("job.sbatch", "train_lightning.py"):
            shutil.copy(HERE / name, runresume.workdir / name)
        self.root = runresume.workdir / "runs" / str(job_id)

    def env(self) -> dict[str, str]:
        """What this run of the job sees: ``SLURM_RESTART_COUNT`` is the number of requeues so far."""
        env = slurm_env(
            self.job_id,
            self.restarts,
            job_name="lightning-train",
            submit_dir=self.runresume.workdir,
            events_file=self.events_file,
        )
        env["PATH"] = os.pathsep.join([str(self.bin), str(Path(sys.executable).parent), os.environ["PATH"]])
        return env

    def run(self, *args: str, preempt: Preemption | None = None):
        """``bash job.sbatch ARGS`` as SLURM starts the batch script (this run's restart count)."""
        return self.runresume.run(["bash", "job.sbatch", *args], preempt=preempt, env=self.env())

    def requeues(self):
        """The successful ``scontrol requeue`` requests of this job so far."""
        return requeue_requests(read_events(self.events_file), self.job_id)

    def requeue(self) -> None:
        """SLURM's requeue: allowed only after the job asked for one; the restart count grows by one."""
        asked = len(self.requeues())
        assert asked > self.restarts, f"the job never ran `scontrol requeue {self.job_id}`: SLURM would not restart it"
        self.restarts += 1


def usr1_at(step: int) -> Preemption:
    """SLURM's ``--signal=USR1`` warning, to the job step (Python under ``srun``), after W&B step ``step``."""
    return Preemption("SIGUSR1", Trigger.at_step(step), target="point")


@pytest.fixture
def job(runresume, tmp_path):
    """A fresh SLURM job (id 4242) in the test's work directory."""
    return SlurmJob(runresume, tmp_path)


@pytest.mark.rules("R35", "R36", "R65", "R66", "R67", "R68")
def test_usr1_checkpoints_requeues_and_the_restart_resumes_one_run(job):
    """SIGUSR1 after W&B step 4: Lightning saves ``hpc_ckpt_1.ckpt`` and runs ``scontrol requeue
    4242`` (recorded by the fake, from restart 0); the example's callback marks the run preempting
    and exits 138, so the run is ``preempted`` and requeueable (R65-R68). The requeued job
    (``SLURM_RESTART_COUNT=1``, same job id) loads the hpc checkpoint by itself and resumes the same
    run: one W&B run, ``_step`` and ``trainer/global_step`` each contiguous and once, finished."""
    first = job.run("--max-steps", str(MAX_STEPS), preempt=usr1_at(4))
    first.expect(state="preempted", exit_code=128 + signal.SIGUSR1, requeueable=True)
    assert first.signals[0].commands[first.signals[0].pids[0]].split()[1].endswith("train_lightning.py")
    assert (job.root / "hpc_ckpt_1.ckpt").exists()
    [asked] = job.requeues()
    assert (asked.argv, asked.restart_count) == (("requeue", str(JOB_ID)), 0)

    job.requeue()
    second = job.run("--max-steps", str(MAX_STEPS))
    second.expect(state="finished", exit_code=0)
    assert "restart 1, resume from hpc checkpoint" in second.stdout
    run = second.run
    assert run.key.path.endswith(RUN_PATH)
    assert [a.resumed for a in run.attempts] == [False, True]
    assert run.steps == list(range(MAX_STEPS))
    assert [row["trainer/global_step"] for row in run.history] == list(range(MAX_STEPS))
    assert len(job.requeues()) == 1  # the restart finished without asking for another
    assert first.killed == [] and second.killed == []  # every process of both runs ended on its own


@pytest.mark.rules("R67")
def test_sigterm_is_a_preemption_too(job):
    """SIGTERM (how SLURM ends a job: time limit, ``scancel``, preemption without
    ``send_user_signal``) after step 4: the example saves an hpc checkpoint itself and exits 143,
    preempted (R67). It does not ask for a requeue: SLURM decides that for a preempted job."""
    first = job.run("--max-steps", str(MAX_STEPS), preempt=Preemption("SIGTERM", Trigger.at_step(4), target="point"))
    first.expect(state="preempted", exit_code=128 + signal.SIGTERM, requeueable=True)
    assert (job.root / "hpc_ckpt_1.ckpt").exists()
    assert job.requeues() == []


@pytest.mark.rules("R66", "R67")
def test_broken_lightning_alone_exits_0_on_sigterm_so_the_run_is_finished(job):
    """The classic mistake: Lightning's own handlers only (``--on-preemption lightning``). On
    SIGTERM Lightning logs "Bypassing SIGTERM" and ends ``fit`` at the next batch with a bare
    ``SystemExit``: exit 0, no checkpoint, W&B marks the preempted run ``finished`` and nothing will
    requeue it (R66, R67). The diagnosis names the handler that exits 0."""
    broken = job.run(
        "--max-steps",
        str(MAX_STEPS),
        "--on-preemption",
        "lightning",
        preempt=Preemption("SIGTERM", Trigger.at_step(4), target="point"),
    )
    with pytest.raises(ExpectationFailed) as failed:
        broken.expect(state="preempted", exit_code=128 + signal.SIGTERM)
    message = str(failed.value)
    assert message.startswith("exit code 0, expected 143; run state 'finished', expected 'preempted'")
    assert "likely cause: [bug: handler-exits-zero] the SIGTERM handler exited 0" in message
    assert [f.code for f in broken.findings] == ["handler-exits-zero"]
    assert not list(job.root.glob("hpc_ckpt_*.ckpt"))


@pytest.mark.rules("R21", "R28")
def test_broken_restart_with_a_new_run_id_is_named(job):
    """The classic mistake: ``WandbLogger`` without an id (``--run-id none``). The preemption and
    Lightning's requeue go well, but the requeued job starts a second W&B run at step 0 instead of
    resuming the first; the diagnosis names the run id made anew at each start (R21, R28)."""
    first = job.run("--max-steps", str(MAX_STEPS), "--run-id", "none", preempt=usr1_at(4))
    first.expect(state="preempted", exit_code=128 + signal.SIGUSR1)
    job.requeue()
    second = job.run("--max-steps", str(MAX_STEPS), "--run-id", "none")
    with pytest.raises(ExpectationFailed) as failed:
        second.expect(state="finished", exit_code=0)
    message = str(failed.value)
    assert "likely cause: [bug: run-id-changed] the restart wrote a new run" in message
    assert f"instead of resuming {first.run.key.path} (which ended 'preempted')" in message
    assert second.run.key != first.run.key and second.run.steps[0] == 0
