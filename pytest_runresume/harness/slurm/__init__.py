"""SLURM as it delivers preemption: ``#SBATCH`` directives, the job environment, fake client commands.

Pure standard library, no import from the runner: the runner (or a test) composes these pieces.

- :func:`parse_sbatch` reads the ``#SBATCH`` lines of a batch script the way ``sbatch`` does
  (``src/sbatch/opt.c``, ``_opt_batch_script`` and ``get_argument`` in SchedMD/slurm) and
  returns an :class:`SbatchScript` with the options that matter for preemption: ``--signal``,
  ``--requeue``/``--no-requeue``, ``--time``, ``--job-name``. A malformed directive raises
  :class:`SbatchError` naming the file and line.
- :func:`slurm_env` is the environment a batch job (and its one ``srun`` step) sees.
- :func:`install_fake_commands` writes fake ``scontrol``, ``squeue``, ``sbatch``, ``srun`` and
  ``scancel`` into a directory to put first on ``PATH``; each records what it was asked as one
  JSON line in the file named by :data:`EVENTS_ENV` (read back with :func:`read_events`).
- :func:`warning_signal_steps`, :func:`termination_steps` and :func:`preemption_steps` say which
  signal goes to which processes and when, for the runner to carry out.

The SLURM facts each piece follows are cited where they are used, and collected in
``docs/schedulers/README.md``.

The pieces live in :mod:`.options` (``--signal``, ``--time``), :mod:`.sbatch` (the directives),
:mod:`.commands` (the job environment, the fake commands and their events) and :mod:`.steps` (who
gets which signal when); every name is importable from this package.
"""

from __future__ import annotations

from .commands import (
    EVENTS_ENV,
    FAKE_COMMANDS,
    FAKE_MODULES,
    SlurmEvent,
    fake_bin_dir,
    install_fake_commands,
    read_events,
    requeue_requests,
    slurm_env,
)
from .options import KILL_WAIT_DEFAULT, SIGNAL_TIME_DEFAULT, SlurmSignal, parse_signal_spec, parse_time_limit
from .sbatch import SbatchDirective, SbatchError, SbatchScript, parse_sbatch, parse_sbatch_file
from .steps import SignalStep, preemption_steps, termination_steps, warning_signal_steps

__all__ = [
    "EVENTS_ENV",
    "FAKE_COMMANDS",
    "FAKE_MODULES",
    "KILL_WAIT_DEFAULT",
    "SIGNAL_TIME_DEFAULT",
    "SbatchDirective",
    "SbatchError",
    "SbatchScript",
    "SignalStep",
    "SlurmEvent",
    "SlurmSignal",
    "fake_bin_dir",
    "install_fake_commands",
    "parse_sbatch",
    "parse_sbatch_file",
    "parse_signal_spec",
    "parse_time_limit",
    "preemption_steps",
    "read_events",
    "requeue_requests",
    "slurm_env",
    "termination_steps",
    "warning_signal_steps",
]
