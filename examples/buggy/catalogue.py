"""The bug catalogue: one small real training script per classic preemption bug, the finding that
names its cause, and where each route a user takes catches it.

``tests/catalogue/test_bug_catalogue.py`` runs every entry through the README's recommended pytest
pattern and through ``runresume check`` with the real wandb SDK and asserts the failure and the
cause; ``tools/gen_failures.py`` writes ``docs/failures.md`` from this table.

:data:`SCHEDULER_CATALOGUE` holds the setups that are wrong only under a scheduler (a batch script,
a pod spec, a VM's shutdown): ``tests/catalogue/test_scheduler_catalogue.py`` runs each through the
same two tests with the scheduler profile (``docs/schedulers/``) and through ``runresume check
--scheduler``, and asserts the failure and the cause the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKER_TEST = "test_survives_preemption"
REQUEUE_TEST = "test_survives_requeues"


@dataclass(frozen=True)
class Bug:
    """One bug class.

    Attributes:
        script: the buggy script, a file in ``examples/buggy/``.
        title: the bug class in a few words.
        code: the diagnosis finding code that names the cause (``pytest_runresume.harness.CODES``).
        readme_tests: the README pattern's tests that fail on it.
        checks: the ``runresume check`` checks that fail on it, naming the cause.
        runner: how the script is started (``python`` or ``bash``).
    """

    script: str
    title: str
    code: str
    readme_tests: tuple[str, ...]
    checks: tuple[str, ...]
    runner: str = "python"

    @property
    def path(self) -> Path:
        return HERE / self.script

    def command(self, *args: str) -> str:
        """The command line, ``python /abs/examples/buggy/x.py ARGS``."""
        return " ".join([self.runner, str(self.path), *args])


BOTH = (MARKER_TEST, REQUEUE_TEST)

CATALOGUE: tuple[Bug, ...] = (
    Bug("handler_exits_zero.py", "the preemption handler exits 0", "handler-exits-zero", BOTH, ("preempted",)),
    Bug("no_handler.py", "no handler for the preemption signal", "no-handler", BOTH, ("preempted",)),
    Bug(
        "finish_in_handler.py",
        "run.finish() in the preemption handler",
        "finished-before-exit",
        BOTH,
        ("preempted",),
    ),
    Bug("run_id_per_start.py", "a new run id at every start", "run-id-changed", BOTH, ("resumed",)),
    Bug(
        "run_id_persisted_in_handler.py",
        "the run id is persisted only in the preemption handler",
        "run-id-changed",
        (REQUEUE_TEST,),
        ("restarted_after_kill",),
    ),
    Bug(
        "run_id_persisted_after_training.py",
        "the run id is persisted only after training",
        "run-id-changed",
        BOTH,
        ("resumed",),
    ),
    Bug(
        "unconditional_mark_preempting.py",
        "run.mark_preempting() called unconditionally after wandb.init",
        "mark-preempting-without-signal",
        BOTH,
        ("preempted",),
    ),
    Bug(
        "checkpoint_lag_implicit.py",
        "the checkpoint lags the W&B step (implicit steps: steps trained and logged twice)",
        "steps-repeated",
        BOTH,
        ("resumed",),
    ),
    Bug(
        "checkpoint_lag_explicit.py",
        "the checkpoint lags the W&B step (explicit steps: the SDK drops the rows)",
        "rows-dropped",
        BOTH,
        ("resumed",),
    ),
    Bug("no_resume_arg.py", "no resume= on a restart", "not-resumed", BOTH, ("resumed",)),
    Bug(
        "resume_must_first_start.py",
        'resume="must" on the first start',
        "resume-must-missing",
        BOTH,
        ("finishes",),
    ),
    Bug(
        "launcher_no_exec.sh",
        "a launcher that never forwards the signal (bash without exec or trap)",
        "signal-not-forwarded",
        BOTH,
        ("preempted",),
        runner="bash",
    ),
    Bug("slow_handler.py", "a handler slower than the grace period", "grace-period-ran-out", BOTH, ("preempted",)),
    Bug(
        "config_update_on_resume.py",
        "config.update with a changed value on resume",
        "config-changed-on-resume",
        BOTH,
        ("resumed",),
    ),
)


@dataclass(frozen=True)
class SchedulerBug:
    """A setup that is wrong under a scheduler.

    Attributes:
        script: the script, relative to ``examples/buggy/`` (a batch script, or the command a pod or
            VM runs).
        title: the bug class in a few words.
        code: the finding code that names the cause.
        scheduler: the profile, as Python source (``Slurm(kill_wait=3)``) for the pytest route.
        cli: the ``runresume check`` options that select the same profile.
        checks: the ``runresume check`` checks that fail on it, naming the cause.
        runner: how the command starts (``""`` for a batch script, which the profile runs itself).
    """

    script: str
    title: str
    code: str
    scheduler: str
    cli: tuple[str, ...]
    checks: tuple[str, ...]
    runner: str = "python"

    @property
    def path(self) -> Path:
        return (HERE / self.script).resolve()

    def command(self, *args: str) -> str:
        """The command line the scheduler runs (``/abs/job.sbatch ARGS``, ``python /abs/x.py ARGS``)."""
        return " ".join([*([self.runner] if self.runner else []), str(self.path), *args])


_SLURM = "Slurm(kill_wait=3, signal_lead=5)"

SCHEDULER_CATALOGUE: tuple[SchedulerBug, ...] = (
    SchedulerBug(
        "slurm_signal_batch_only.sbatch",
        "SLURM --signal=B:USR1 with a batch script that neither execs nor traps",
        "signal-batch-shell-only",
        _SLURM,
        ("--scheduler", "slurm", "--grace", "3"),
        ("preempted",),
        runner="",
    ),
    SchedulerBug(
        "slurm_no_srun.sbatch",
        "SLURM --signal without B: and no srun step: the signal reaches nobody",
        "signal-reached-nobody",
        _SLURM,
        ("--scheduler", "slurm", "--grace", "3"),
        ("preempted",),
        runner="",
    ),
    SchedulerBug(
        "slurm_run_id_per_requeue.sbatch",
        "a run id that changes when SLURM requeues the job (SLURM_RESTART_COUNT in it)",
        "requeue-changed-run-id",
        _SLURM,
        ("--scheduler", "slurm", "--grace", "3"),
        ("resumed",),
        runner="",
    ),
    SchedulerBug(
        "auto_resume_train.py",
        'resume="auto" in a Kubernetes pod whose working directory is not a volume',
        "workdir-not-persistent",
        "Kubernetes(grace_period=3)",
        ("--scheduler", "kubernetes", "--grace", "3"),
        ("resumed", "auto_same_dir"),
    ),
    SchedulerBug(
        "../train.py",
        "a spot VM's shutdown (KillMode=control-group) SIGTERMs wandb-core with the training",
        "wandb-core-signalled",
        'SpotVM("gcp", notice=3)',
        ("--scheduler", "spot-gcp", "--grace", "3"),
        ("preempted",),
    ),
)
